"""Check an exported windcast ONNX model with the ONNX project's own checker and shape inference.

  python3 bench/onnx_check.py MODEL.onnx      (needs: pip install onnx)

Optional, outside the test suite (the suite runs every export through onnxruntime-node).
"""
import sys

import onnx

model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
io = lambda vs: ", ".join(f"{v.name} {[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]}" for v in vs)
print(f"{sys.argv[1]}: valid ONNX (IR {model.ir_version}, opset {model.opset_import[0].version}, {len(model.graph.node)} nodes); inputs {io(model.graph.input)}; outputs {io(inferred.graph.output)}")
