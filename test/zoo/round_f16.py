#!/usr/bin/python3
"""For test/zoo/half.test.ts: a zoo model with the weights gradlens reads as f16 (input 1 of Conv, ConvTranspose, Gemm
and MatMul, where it is a float32 initializer) rounded to f16 and back, so onnxruntime computes in float32 what
gradlens's f16 weights compute. gradlens rounds a convolution's weights after folding a BatchNorm into them: the same
here only because torch.onnx.export has already folded them (as in every zoo model).
Run: /usr/bin/python3 test/zoo/round_f16.py IN.onnx OUT.onnx (needs python3-onnx)."""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

model = onnx.load(sys.argv[1])
weights = {node.input[1] for node in model.graph.node if node.op_type in ('Conv', 'ConvTranspose', 'Gemm', 'MatMul') and len(node.input) > 1}
for index, initializer in enumerate(model.graph.initializer):
    if initializer.name in weights and initializer.data_type == onnx.TensorProto.FLOAT:
        rounded = np.clip(numpy_helper.to_array(initializer), -65504, 65504).astype(np.float16).astype(np.float32)
        model.graph.initializer[index].CopyFrom(numpy_helper.from_array(rounded, initializer.name))
onnx.save(model, sys.argv[2])
