"""What every package shares about a converted model: reading a .tflite, running an artefact, its side files
(report.json, labels.txt) and scoring it on labelled images.

This is the neutral layer: converters, quantization, device_bench and the CLI import it; it imports none of them.
"""
