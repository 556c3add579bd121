"""Int8 post-training quantization: calibration data, full-integer PTQ, error analysis."""
