"""`zeroxqa bench`: every variant of a reader (torch fp32, ONNX fp32, optimized, int8) against the Hugging
Face pipeline on the same weights, in one run, with an acceptance gate for the int8 model."""
