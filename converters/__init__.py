"""PyTorch → ONNX → TFLite conversion, each stage verified numerically against the one before."""
