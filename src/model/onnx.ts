/**
 * The network (network.ts) as an ONNX model (opset 17, IR 8) with standard operators only:
 * the LSTM is ONNX's own LSTM operator, so any ONNX runtime runs it. The protobuf is encoded
 * with onnx-proto (the official onnx.proto compiled by protobufjs), not by hand.
 *
 * Two forms:
 *  - 'speed' (what `windcast export` writes): inputs window [N, lookback, features] (the
 *    normalised features, as gatherWindow builds them), cell_mean [N, 1] and cell_std [N, 1]
 *    (the window's cell statistics, m/s); outputs speed [N, horizon] m/s and, with a quantile
 *    head, quantiles [N, horizon, levels] m/s. Inside: the LSTM, the dense head, the linear path,
 *    the quantile head, the change from the last hour (its reference is rebuilt from the
 *    window's last normalised speed: x * std + mean) and the clip at zero, i.e. everything
 *    features.ts's denormalize does.
 *  - 'normalised' (the onnx engine of forecast.ts, which denormalises as the tfjs path does):
 *    input window only; outputs point [N, horizon] and quantiles [N, horizon x levels] in the
 *    model's normalised units, exactly the tfjs model's outputs.
 *
 * Gate layout: tfjs/Keras keep the gates i, f, c, o in the columns of kernel [inputs, 4U];
 * ONNX's LSTM wants W [1, 4U, inputs] and R [1, 4U, U] with the gate blocks i, o, f, c in the
 * rows, and B [1, 8U] = input bias then recurrent bias (zeros here: Keras has one bias).
 */
import onnxProto from 'onnx-proto';
import type { NetworkWeights, DenseWeights, LstmWeights } from './network.js';
import { quantileMatrices } from './network.js';

const { onnx } = onnxProto;

export const ONNX_OPSET = 17;

export type OnnxForm = 'speed' | 'normalised';

export interface OnnxOptions {
  form: OnnxForm;
  /** Free text in the model's doc_string and metadata (run, checkpoint). */
  metadata?: Record<string, string>;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** Keras gate blocks i, f, c, o -> ONNX's i, o, f, c (indices of the Keras blocks in ONNX order). */
const ONNX_GATES = [0, 3, 1, 2];

/** [rows, cols] row-major -> [cols, rows]. */
function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c]!;
  return out;
}

/** A Keras kernel [inputs, 4U] (gates i, f, c, o in columns) as ONNX's [4U, inputs] (gates i, o, f, c in rows). */
export function onnxGateMatrix(kernel: Float32Array, inputs: number, units: number): Float32Array {
  const t = transpose(kernel, inputs, 4 * units); // [4U, inputs], Keras gate order in rows
  const out = new Float32Array(t.length);
  ONNX_GATES.forEach((kerasGate, onnxGate) => out.set(t.subarray(kerasGate * units * inputs, (kerasGate + 1) * units * inputs), onnxGate * units * inputs));
  return out;
}

/** A Keras bias [4U] as ONNX's B [8U]: the input bias in ONNX gate order, then a zero recurrent bias. */
export function onnxGateBias(bias: Float32Array, units: number): Float32Array {
  const out = new Float32Array(8 * units);
  ONNX_GATES.forEach((kerasGate, onnxGate) => out.set(bias.subarray(kerasGate * units, (kerasGate + 1) * units), onnxGate * units));
  return out;
}

class GraphBuilder {
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private count = 0;

  tensor(name: string, dims: number[], values: Float32Array): string {
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) }));
    return name;
  }

  ints(name: string, values: number[]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) }));
    return name;
  }

  /** Add a node; returns its outputs' names (`outputs` of them, or the given names). */
  node(op: string, inputs: string[], options: { outputs?: number | string[]; attributes?: InstanceType<typeof onnx.AttributeProto>[]; name?: string } = {}): string[] {
    const id = this.count++;
    const outs = Array.isArray(options.outputs) ? options.outputs : Array.from({ length: options.outputs ?? 1 }, (_, k) => `${op.toLowerCase()}${id}_${k}`);
    this.nodes.push(onnx.NodeProto.create({ opType: op, input: inputs, output: outs, name: options.name ?? `${op}_${id}`, attribute: options.attributes ?? [] }));
    return outs;
  }

  one(op: string, inputs: string[], attributes: InstanceType<typeof onnx.AttributeProto>[] = [], output?: string): string {
    return this.node(op, inputs, { attributes, ...(output ? { outputs: [output] } : {}) })[0]!;
  }
}

const attrInt = (name: string, i: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const attrInts = (name: string, ints: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
const attrFloats = (name: string, floats: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOATS, floats });
const attrStrings = (name: string, strings: string[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.STRINGS, strings: strings.map((s) => new TextEncoder().encode(s)) });

function valueInfo(name: string, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: FLOAT,
        shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) }),
      }),
    }),
  });
}

function gemm(g: GraphBuilder, x: string, d: DenseWeights, name: string): string {
  const w = g.tensor(`${name}.kernel`, [d.inputs, d.outputs], d.kernel);
  if (!d.bias) return g.one('MatMul', [x, w]);
  return g.one('Gemm', [x, w, g.tensor(`${name}.bias`, [d.outputs], d.bias)]);
}

function lstmLayer(g: GraphBuilder, x: string, l: LstmWeights, units: number, index: number, last: boolean): string {
  const W = g.tensor(`lstm${index}.W`, [1, 4 * units, l.inputs], onnxGateMatrix(l.kernel, l.inputs, units));
  const R = g.tensor(`lstm${index}.R`, [1, 4 * units, units], onnxGateMatrix(l.recurrent, units, units));
  const B = g.tensor(`lstm${index}.B`, [1, 8 * units], onnxGateBias(l.bias, units));
  const attributes = [attrInt('hidden_size', units)];
  if (l.gate === 'hardSigmoid') {
    // tfjs's hardSigmoid is clip(0.2 x + 0.5, 0, 1): ONNX's HardSigmoid with alpha 0.2, beta 0.5.
    attributes.push(attrStrings('activations', ['HardSigmoid', 'Tanh', 'Tanh']), attrFloats('activation_alpha', [0.2, 0, 0]), attrFloats('activation_beta', [0.5, 0, 0]));
  }
  // Outputs Y [T, 1, N, U] and Y_h [1, N, U].
  const [y, yh] = g.node('LSTM', [x, W, R, B], { outputs: 2, attributes, name: `lstm${index}` });
  return last ? g.one('Squeeze', [yh!, g.ints(`lstm${index}.squeeze_h`, [0])]) : g.one('Squeeze', [y!, g.ints(`lstm${index}.squeeze_y`, [1])]);
}

/** The ONNX model's bytes (an ONNX ModelProto). */
export function onnxModel(net: NetworkWeights, options: OnnxOptions): Uint8Array {
  const g = new GraphBuilder();
  const { lookback: L, nFeatures: F, horizon: H, units: U } = net;
  const Q = net.quantiles?.levels.length ?? 0;
  const N = 'N';
  const window = 'window';
  // LSTM wants time-major input [T, N, F].
  let h = g.one('Transpose', [window], [attrInts('perm', [1, 0, 2])]);
  net.lstm.forEach((l, i) => {
    h = lstmLayer(g, h, l, U, i + 1, i === net.lstm.length - 1);
  });
  const state = h; // [N, U]
  let point = gemm(g, state, net.head, 'head');
  if (net.linear) {
    let flat: string;
    if (net.linear.kind === 'full') {
      flat = g.one('Reshape', [window, g.ints('linear.flat_shape', [-1, L * F])]);
    } else {
      const projected = g.one('MatMul', [window, g.tensor('linear_proj.kernel', [F, net.linear.projection.outputs], net.linear.projection.kernel)]);
      flat = g.one('Reshape', [projected, g.ints('linear.flat_shape', [-1, L * net.linear.projection.outputs])]);
    }
    point = g.one('Add', [point, gemm(g, flat, net.linear.dense, 'linear')]);
  }
  let quantiles: string | undefined;
  if (net.quantiles) {
    const q = net.quantiles;
    const { stepScale, cumulative } = quantileMatrices(q, H);
    const raw = g.one('Reshape', [gemm(g, state, q.dense, 'quantiles'), g.ints('quantiles.shape', [-1, H, Q])]);
    const steps = g.one('Mul', [g.one('Softplus', [raw]), g.tensor('quantiles.step_scale', [1, H, Q], stepScale)]);
    const offsets = g.one('MatMul', [steps, g.tensor('quantiles.cumulative', [Q, Q], cumulative)]);
    const centreOffset = g.one('Slice', [raw, g.ints('quantiles.central_start', [q.central]), g.ints('quantiles.central_end', [q.central + 1]), g.ints('quantiles.axis', [2])]);
    const centre = g.one('Add', [g.one('Unsqueeze', [point, g.ints('quantiles.unsqueeze', [2])]), centreOffset]); // [N, H, 1]
    quantiles = g.one('Add', [offsets, centre]); // [N, H, Q]
  }
  const inputs = [valueInfo(window, [N, L, F])];
  const outputs = [];
  if (options.form === 'normalised') {
    g.one('Identity', [point], [], 'point');
    outputs.push(valueInfo('point', [N, H]));
    if (quantiles) {
      g.one('Reshape', [quantiles, g.ints('quantiles.flat_shape', [-1, H * Q])], [], 'quantiles');
      outputs.push(valueInfo('quantiles', [N, H * Q]));
    }
  } else {
    inputs.push(valueInfo('cell_mean', [N, 1]), valueInfo('cell_std', [N, 1]));
    // The reference the outputs are changes from: the last input hour's speed, or the cell mean.
    let ref = 'cell_mean';
    if (net.predictDelta) {
      const last = g.one('Slice', [window, g.ints('last.start', [L - 1, 0]), g.ints('last.end', [L, 1]), g.ints('last.axes', [1, 2])]); // [N, 1, 1]
      const lastNorm = g.one('Reshape', [last, g.ints('last.shape', [-1, 1])]);
      ref = g.one('Add', [g.one('Mul', [lastNorm, 'cell_std']), 'cell_mean']);
    }
    // Wind speed is never negative: features.ts's denormalize clips at zero too.
    g.one('Relu', [g.one('Add', [ref, g.one('Mul', ['cell_std', point])])], [], 'speed');
    outputs.push(valueInfo('speed', [N, H]));
    if (quantiles) {
      const ref3 = g.one('Unsqueeze', [ref, g.ints('ref.unsqueeze', [2])]);
      const std3 = g.one('Unsqueeze', ['cell_std', g.ints('std.unsqueeze', [2])]);
      g.one('Relu', [g.one('Add', [ref3, g.one('Mul', [std3, quantiles])])], [], 'quantiles');
      outputs.push(valueInfo('quantiles', [N, H, Q]));
    }
  }
  const graph = onnx.GraphProto.create({ name: 'windcast', node: g.nodes, initializer: g.initializers, input: inputs, output: outputs });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'windcast',
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    graph,
    docString: 'windcast wind-speed forecaster: see the sidecar JSON for the features and outputs',
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}
