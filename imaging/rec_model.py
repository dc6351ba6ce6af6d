"""The PP-OCRv4 recognition model shipped inside the rapidocr-onnxruntime wheel, rewritten once
into a leaner but numerically equivalent graph and cached on disk (never downloaded).

The exported graph spells out what the network's training code fused: after every conv a
"learnable affine block" (Mul by a scalar, Add a scalar) and a hard-swish written as four
element-wise ops (Add 3, Clip 0..6, Mul, Div 6). onnxruntime fuses neither, and those ~250
element-wise nodes cost about a fifth of the run time on one thread. The rewrite:

- folds Conv -> Mul(a) -> Add(c) into the conv (weights a·W, bias a·b + c);
- replaces the four-node hard-swish by one HardSwish node (opset 14);
- (version 2) removes the scalar affine block that follows every hard-swish (Mul a, Add c):
  folded into the next conv where that is a 1x1 conv without padding (W·a, b + c·ΣW), else
  turned into a per-channel 1x1 depthwise Conv. onnxruntime runs the convs in its blocked
  NCHWc layout but not a scalar Mul/Add, so each of those 28 pairs cost a layout round trip
  (ReorderOutput, Mul, Add, ReorderInput): ~25 % of the model's time. A 1x1 depthwise conv
  stays in the blocked layout;
- drops the now unused initializers.

Outputs agree with the original to ~1e-5 (tests/imaging/test_rec_model.py). Building needs the
`onnx` package and takes ~2 s; the result is cached under VOUCHERFLOW_MODEL_CACHE (default
$XDG_CACHE_HOME/voucherflow/models), keyed by the source model's hash and the rewrite version.
Without `onnx`, or if anything fails, the original model is used as it is.

`int8_model_path()` (used by the recognizer, imaging/ocr_engines.REC_INT8) goes one step
further: the widest 1x1 convolutions (both channel counts >= INT8_MIN_CHANNELS: the 8 of the
last two stages, ~45 % of the model's time) become dynamically quantized int8 matrix products
(onnxruntime's DynamicQuantizeMatMul: weights int8 per output channel, symmetric; the input
quantized per run, uint8 over the whole batch tensor, which is why the recognizer runs this
graph one slice per run), wrapped in NCHW <-> NHWC transposes.
So does the CTC head (120 x 6625 MatMul + bias; version 2). Every other conv and the SVTR
neck stay fp32. The recognizer's CPU falls by ~25 %; texts are the same on the 80 pipeline
scans and the clean renders, but per-field confidences move (docs/decisions-ocr.md,
"Speed, round 6"). Cached next to the fp32 graph, keyed by the source hash, the rewrite
version and INT8_VERSION; deterministic (no calibration data); any failure falls back to the
fp32 graph.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

REWRITE_VERSION = "2"
# The int8 step on top of the rewritten graph (in the cache key: a change rebuilds it).
INT8_VERSION = "2"
INT8_MIN_CHANNELS = 240
# A MatMul by a constant with at least this many output columns is the CTC head (120 x 6625).
INT8_MIN_HEAD_CLASSES = 1000
REC_MODEL_FILE = "ch_PP-OCRv4_rec_infer.onnx"


def source_model_path() -> Path:
    """The recognition model file inside the installed rapidocr-onnxruntime wheel."""
    import rapidocr_onnxruntime

    return Path(rapidocr_onnxruntime.__file__).parent / "models" / REC_MODEL_FILE


def cache_dir() -> Path:
    if os.environ.get("VOUCHERFLOW_MODEL_CACHE"):
        return Path(os.environ["VOUCHERFLOW_MODEL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voucherflow" / "models"


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def optimized_model_path(source: Path | None = None) -> Path:
    """The cached rewritten model, built on first use; the source model if it cannot be built."""
    source = source or source_model_path()
    target = cache_dir() / f"{source.stem}.{_file_hash(source)}.v{REWRITE_VERSION}.onnx"
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
        os.close(fd)
        try:
            build_optimized_model(source, Path(tmp))
            os.chmod(tmp, 0o644)  # mkstemp makes it private; workers may be other users
            os.replace(tmp, target)  # atomic: a concurrent builder writes the same bytes
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except Exception as exc:  # noqa: BLE001 - any failure: fall back to the shipped model
        log.warning("recognizer graph rewrite unavailable (%s); using %s as shipped", exc, source)
        return source
    return target


def int8_model_path(source: Path | None = None) -> Path:
    """The cached int8 variant of the rewritten graph (built on first use); the fp32 graph
    (optimized_model_path) if it cannot be built."""
    source = source or source_model_path()
    fp32 = optimized_model_path(source)
    if fp32 == source:  # no rewrite (no onnx package, or it failed): no int8 either
        return fp32
    target = fp32.with_name(f"{fp32.stem}.int8pw{INT8_VERSION}.onnx")
    if target.exists():
        return target
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
        os.close(fd)
        try:
            build_int8_model(fp32, Path(tmp))
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except Exception as exc:  # noqa: BLE001 - any failure: the fp32 graph
        log.warning("int8 recognizer unavailable (%s); using %s", exc, fp32)
        return fp32
    return target


def is_int8_model(path: Path) -> bool:
    """Whether `path` is an int8 variant made by int8_model_path."""
    return ".int8pw" in Path(path).name


def build_int8_model(fp32: Path, target: Path) -> int:
    """Write `fp32` (a rewritten graph) with its wide 1x1 convs made int8 to `target`;
    returns how many convs were converted."""
    import onnx

    model = onnx.load(str(fp32))
    count = quantize_pointwise_convs(model) + quantize_head(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return count


def quantize_pointwise_convs(model, min_channels: int = INT8_MIN_CHANNELS) -> int:
    """In place: every 1x1, stride 1, unpadded, ungrouped Conv with a constant weight of at
    least `min_channels` input and output channels becomes
    Transpose(NHWC) -> DynamicQuantizeMatMul(int8 weight per output channel, bias) ->
    Transpose(NCHW). Returns how many."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    count = 0
    for conv in list(graph.node):
        if not _plain_pointwise(conv, inits):
            continue
        attrs = _attrs(conv)
        if any(s != 1 for s in attrs.get("strides", [1, 1])) or any(
            d != 1 for d in attrs.get("dilations", [1, 1])
        ):
            continue
        weight = numpy_helper.to_array(inits[conv.input[1]])[:, :, 0, 0]  # (out, in)
        if min(weight.shape) < min_channels:
            continue
        bias = (
            numpy_helper.to_array(inits[conv.input[2]])
            if len(conv.input) > 2 and conv.input[2] in inits
            else np.zeros(weight.shape[0], np.float32)
        )
        quant, scale = _int8_per_column(weight.T)  # (in, out): the MatMul's B
        name = conv.output[0]
        tensors = [
            numpy_helper.from_array(np.ascontiguousarray(quant), f"{name}__q8_w"),
            numpy_helper.from_array(scale.astype(np.float32), f"{name}__q8_scale"),
            numpy_helper.from_array(np.zeros(weight.shape[0], np.int8), f"{name}__q8_zero"),
            numpy_helper.from_array(bias.astype(np.float32), f"{name}__q8_b"),
        ]
        graph.initializer.extend(tensors)
        nodes = [
            helper.make_node(
                "Transpose",
                [conv.input[0]],
                [f"{name}__nhwc"],
                perm=[0, 2, 3, 1],
                name=f"{name}__to_nhwc",
            ),
            helper.make_node(
                "DynamicQuantizeMatMul",
                [f"{name}__nhwc", *(t.name for t in tensors)],
                [f"{name}__q8_out"],
                domain="com.microsoft",
                name=f"{name}__q8",
            ),
            helper.make_node(
                "Transpose",
                [f"{name}__q8_out"],
                [name],
                perm=[0, 3, 1, 2],
                name=f"{name}__to_nchw",
            ),
        ]
        at = list(graph.node).index(conv)
        graph.node.remove(conv)
        for k, node in enumerate(nodes):
            graph.node.insert(at + k, node)
        count += 1
    if count:
        _tidy_after_msft_ops(model)
    return count


def _int8_per_column(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A MatMul's B (in, out) as int8, symmetric per output column: the weights and the
    column scales (float64; an all-zero column gets scale 1)."""
    wt = weight.astype(np.float64)
    amax = np.abs(wt).max(axis=0)
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    return np.clip(np.rint(wt / scale), -127, 127).astype(np.int8), scale


def _tidy_after_msft_ops(model) -> None:  # noqa: ANN001
    """After nodes of onnxruntime's com.microsoft domain went in: declare the domain, drop
    the initializers nothing reads any more."""
    from onnx import helper

    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    graph = model.graph
    used = {n for node in graph.node for n in node.input}
    for init in list(graph.initializer):
        if init.name not in used:
            graph.initializer.remove(init)


def quantize_head(model, min_classes: int = INT8_MIN_HEAD_CLASSES) -> int:
    """In place: MatMul(x, constant W of >= `min_classes` columns) -> Add(constant bias), the
    CTC head, becomes one DynamicQuantizeMatMul (W int8 symmetric per column, bias fused).
    The SVTR neck's smaller MatMuls stay fp32. Returns how many."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    users: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    count = 0
    for matmul in list(graph.node):
        if matmul.op_type != "MatMul" or matmul.input[1] not in inits:
            continue
        if len(inits[matmul.input[1]].dims) != 2 or inits[matmul.input[1]].dims[1] < min_classes:
            continue
        found = users.get(matmul.output[0], [])
        if matmul.output[0] in outputs or len(found) != 1 or found[0].op_type != "Add":
            continue
        add = found[0]
        bias_name = add.input[1] if add.input[0] == matmul.output[0] else add.input[0]
        if bias_name not in inits or tuple(inits[bias_name].dims) != (
            inits[matmul.input[1]].dims[1],
        ):
            continue
        weight = numpy_helper.to_array(inits[matmul.input[1]])
        quant, scale = _int8_per_column(weight)
        name = add.output[0]
        graph.initializer.extend(
            [
                numpy_helper.from_array(quant, f"{name}__q8_w"),
                numpy_helper.from_array(scale.astype(np.float32), f"{name}__q8_scale"),
                numpy_helper.from_array(np.zeros(weight.shape[1], np.int8), f"{name}__q8_zero"),
            ]
        )
        node = helper.make_node(
            "DynamicQuantizeMatMul",
            [matmul.input[0], f"{name}__q8_w", f"{name}__q8_scale", f"{name}__q8_zero", bias_name],
            [name],
            domain="com.microsoft",
            name=f"{name}__q8",
        )
        at = list(graph.node).index(matmul)
        graph.node.remove(matmul)
        graph.node.remove(add)
        graph.node.insert(at, node)
        count += 1
    if count:
        _tidy_after_msft_ops(model)
    return count


def build_optimized_model(source: Path, target: Path) -> dict[str, int]:
    """Write the rewritten graph of `source` to `target`; returns how many patterns were fused."""
    import onnx
    import onnxruntime as ort
    from onnx import version_converter

    with tempfile.TemporaryDirectory(prefix="vf_rec_") as tmp:
        # onnxruntime's portable (basic) optimizations first: constant folding, Conv+BN fusion.
        basic = Path(tmp) / "basic.onnx"
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = str(basic)
        ort.InferenceSession(str(source), opts, providers=["CPUExecutionProvider"])
        model = onnx.load(str(basic))
    shipped = onnx.load(str(source), load_external_data=False)
    metadata = {p.key: p.value for p in shipped.metadata_props}
    model = version_converter.convert_version(model, 14)  # HardSwish is opset 14
    counts = rewrite_graph(model)
    del model.metadata_props[:]
    for key, value in metadata.items():  # the character list lives here
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return counts


def rewrite_graph(model) -> dict[str, int]:
    """Fold Conv·a + c into the conv and fuse the decomposed hard-swish, in place."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consts = {
        n.output[0]: numpy_helper.to_array(n.attribute[0].t)
        for n in graph.node
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"
    }

    def scalar(name: str) -> float | None:
        value = numpy_helper.to_array(inits[name]) if name in inits else consts.get(name)
        return None if value is None or value.size != 1 else float(np.ravel(value)[0])

    def consumers() -> dict[str, list]:
        users: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                users.setdefault(name, []).append(node)
        return users

    def sole_user(users, name: str, op: str):
        found = users.get(name, [])
        return found[0] if len(found) == 1 and found[0].op_type == op else None

    def other_input(node, name: str) -> str:
        return node.input[0] if node.input[1] == name else node.input[1]

    graph_outputs = {o.name for o in graph.output}
    users, drop, folded = consumers(), [], 0
    for conv in list(graph.node):
        if conv.op_type != "Conv" or conv.input[1] not in inits:
            continue
        mul = sole_user(users, conv.output[0], "Mul")
        if mul is None or conv.output[0] in graph_outputs:
            continue
        a = scalar(other_input(mul, conv.output[0]))
        add = sole_user(users, mul.output[0], "Add")
        if a is None or add is None or mul.output[0] in graph_outputs:
            continue
        c = scalar(other_input(add, mul.output[0]))
        if c is None:
            continue
        weight = numpy_helper.to_array(inits[conv.input[1]])
        has_bias = len(conv.input) > 2 and conv.input[2] in inits
        bias = (
            numpy_helper.to_array(inits[conv.input[2]])
            if has_bias
            else np.zeros(weight.shape[0], np.float32)
        )
        w_name, b_name = f"{conv.output[0]}__w_folded", f"{conv.output[0]}__b_folded"
        graph.initializer.extend(
            [
                numpy_helper.from_array((weight * a).astype(np.float32), w_name),
                numpy_helper.from_array((bias * a + c).astype(np.float32), b_name),
            ]
        )
        x = conv.input[0]
        del conv.input[:]
        conv.input.extend([x, w_name, b_name])
        conv.output[0] = add.output[0]
        drop += [mul, add]
        folded += 1
    for node in drop:
        graph.node.remove(node)

    users, drop, fused = consumers(), [], 0
    for add in list(graph.node):
        if add.op_type != "Add" or len(add.input) != 2:
            continue
        x = next((add.input[k] for k in (0, 1) if scalar(add.input[1 - k]) == 3.0), None)
        clip = sole_user(users, add.output[0], "Clip") if x else None
        if clip is None or len(clip.input) < 3:
            continue
        if scalar(clip.input[1]) != 0.0 or scalar(clip.input[2]) != 6.0:
            continue
        mul = sole_user(users, clip.output[0], "Mul")
        if mul is None or other_input(mul, clip.output[0]) != x:
            continue
        div = sole_user(users, mul.output[0], "Div")
        if div is None or div.input[0] != mul.output[0] or scalar(div.input[1]) != 6.0:
            continue
        hswish = helper.make_node("HardSwish", [x], [div.output[0]], name=f"{div.name}__hswish")
        graph.node.insert(list(graph.node).index(add), hswish)
        drop += [add, clip, mul, div]
        fused += 1
    for node in drop:
        graph.node.remove(node)

    inits = {i.name: i for i in graph.initializer}
    after_folded, after_depthwise = fold_post_activation_affine(graph, inits, scalar)

    used = {name for node in graph.node for name in node.input}
    for init in list(graph.initializer):
        if init.name not in used:
            graph.initializer.remove(init)
    for node in list(graph.node):
        if node.op_type == "Constant" and not used.intersection(node.output):
            graph.node.remove(node)
    return {
        "conv_affine_folded": folded,
        "hardswish_fused": fused,
        "post_affine_folded": after_folded,
        "post_affine_depthwise": after_depthwise,
    }


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _plain_pointwise(conv, inits) -> bool:
    """A 1x1 conv, one group, no padding: folding an affine of its input into it is exact."""
    if conv.op_type != "Conv" or conv.input[1] not in inits:
        return False
    attrs = _attrs(conv)
    weight_shape = tuple(inits[conv.input[1]].dims)
    return (
        len(weight_shape) == 4
        and weight_shape[2:] == (1, 1)
        and attrs.get("group", 1) == 1
        and not any(attrs.get("pads", []))
        and attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
    )


def fold_post_activation_affine(graph, inits: dict, scalar) -> tuple[int, int]:
    """Conv -> HardSwish -> Mul(scalar a) -> Add(scalar c): fold a, c into the next 1x1 conv
    when that is the only consumer, else make them a 1x1 depthwise Conv; in place.
    Returns (folded, made depthwise)."""
    from onnx import helper, numpy_helper

    producer = {out: node for node in graph.node for out in node.output}
    users: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    graph_outputs = {o.name for o in graph.output}

    def sole(name: str, op: str):
        found = users.get(name, [])
        if name in graph_outputs or len(found) != 1 or found[0].op_type != op:
            return None
        return found[0]

    def other(node, name: str) -> str:
        return node.input[0] if node.input[1] == name else node.input[1]

    drop, folded, depthwise = [], 0, 0
    for hswish in list(graph.node):
        if hswish.op_type != "HardSwish":
            continue
        conv = producer.get(hswish.input[0])
        if conv is None or conv.op_type != "Conv" or conv.input[1] not in inits:
            continue
        mul = sole(hswish.output[0], "Mul")
        a = scalar(other(mul, hswish.output[0])) if mul is not None else None
        add = sole(mul.output[0], "Add") if a is not None else None
        c = scalar(other(add, mul.output[0])) if add is not None else None
        if c is None:
            continue
        nxt = users.get(add.output[0], [])
        if (
            add.output[0] not in graph_outputs
            and len(nxt) == 1
            and nxt[0].input[0] == add.output[0]
            and _plain_pointwise(nxt[0], inits)
        ):
            target = nxt[0]
            weight = numpy_helper.to_array(inits[target.input[1]]).astype(np.float64)
            bias = (
                numpy_helper.to_array(inits[target.input[2]]).astype(np.float64)
                if len(target.input) > 2 and target.input[2] in inits
                else np.zeros(weight.shape[0])
            )
            w_name, b_name = f"{target.output[0]}__w_post", f"{target.output[0]}__b_post"
            for tensor in (
                numpy_helper.from_array((weight * a).astype(np.float32), w_name),
                numpy_helper.from_array(
                    (bias + c * weight.sum(axis=(1, 2, 3))).astype(np.float32), b_name
                ),
            ):
                graph.initializer.append(tensor)
                inits[tensor.name] = graph.initializer[-1]  # a later block's conv may be this
            del target.input[:]
            target.input.extend([hswish.output[0], w_name, b_name])
            drop += [mul, add]
            folded += 1
            continue
        channels = inits[conv.input[1]].dims[0]
        w_name, b_name = f"{add.output[0]}__dw_w", f"{add.output[0]}__dw_b"
        graph.initializer.extend(
            [
                numpy_helper.from_array(np.full((channels, 1, 1, 1), a, np.float32), w_name),
                numpy_helper.from_array(np.full((channels,), c, np.float32), b_name),
            ]
        )
        node = helper.make_node(
            "Conv",
            [hswish.output[0], w_name, b_name],
            [add.output[0]],
            group=channels,
            kernel_shape=[1, 1],
            name=f"{add.name}__affine_dw",
        )
        graph.node.insert(list(graph.node).index(mul), node)
        drop += [mul, add]
        depthwise += 1
    for node in drop:
        graph.node.remove(node)
    return folded, depthwise


if __name__ == "__main__":  # build the cache ahead of time: python -m imaging.rec_model
    logging.basicConfig(level=logging.INFO)
    print(optimized_model_path())
    print(int8_model_path())
