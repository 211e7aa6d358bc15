"""Data sets as arrays, preprocessing, and the external inputs with their checksums."""
