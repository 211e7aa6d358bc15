"""The injection engines (Keras, PyTorch) and what they share: devices, model health, architecture names."""
