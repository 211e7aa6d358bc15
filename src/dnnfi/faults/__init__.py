"""The fault contract shared by both engines: fault lists, the corruption of a value, number formats,
seeds and the outcome of one injection."""
