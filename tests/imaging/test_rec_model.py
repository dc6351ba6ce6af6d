"""The recognizer's input batching and its once-rewritten graph (imaging/rec_model.py)."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from imaging.ocr_engines import (
    RapidRecognizer,
    frame_count,
    get_rapid_recognizer,
    pad_batch,
    rec_input,
    width_groups,
)
from imaging.rec_model import (
    INT8_VERSION,
    int8_model_path,
    optimized_model_path,
    quantize_head,
    quantize_pointwise_convs,
    rewrite_graph,
    source_model_path,
)


def _session(model) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _conv_affine_hswish_model() -> onnx.ModelProto:
    """x -> Conv -> Mul(a) -> Add(c) -> [Add 3, Clip 0..6, Mul, Div 6] -> y: the block the
    exported PP-OCRv4 graph repeats."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "B"),
        numpy_helper.from_array(np.array(1.7, np.float32), "a"),
        numpy_helper.from_array(np.array(-0.4, np.float32), "c"),
        numpy_helper.from_array(np.array(3.0, np.float32), "three"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(6.0, np.float32), "six"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["a", "conv"], ["scaled"]),
        helper.make_node("Add", ["scaled", "c"], ["affine"]),
        helper.make_node("Add", ["affine", "three"], ["plus3"]),
        helper.make_node("Clip", ["plus3", "zero", "six"], ["clipped"]),
        helper.make_node("Mul", ["affine", "clipped"], ["prod"]),
        helper.make_node("Div", ["prod", "six"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 16])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def test_rewrite_graph_folds_affine_and_fuses_hardswish_without_changing_output():
    model = _conv_affine_hswish_model()
    x = np.random.default_rng(1).normal(scale=3, size=(1, 3, 8, 16)).astype(np.float32)
    before = _session(model).run(None, {"x": x})[0]
    counts = rewrite_graph(model)
    onnx.checker.check_model(model)
    assert counts == {
        "conv_affine_folded": 1,
        "hardswish_fused": 1,
        "post_affine_folded": 0,
        "post_affine_depthwise": 0,
    }
    assert [n.op_type for n in model.graph.node] == ["Conv", "HardSwish"]
    assert {i.name for i in model.graph.initializer} == {n for n in model.graph.node[0].input[1:]}
    np.testing.assert_allclose(_session(model).run(None, {"x": x})[0], before, atol=1e-5)


def test_rewrite_graph_leaves_a_conv_with_a_non_scalar_scale_alone():
    model = _conv_affine_hswish_model()
    a = next(i for i in model.graph.initializer if i.name == "a")
    a.CopyFrom(numpy_helper.from_array(np.full((1, 4, 1, 1), 1.7, np.float32), "a"))
    counts = rewrite_graph(model)
    assert counts["conv_affine_folded"] == 0
    assert counts["hardswish_fused"] == 1


def _post_affine_model(next_kernel: int) -> onnx.ModelProto:
    """The block, then the affine after the activation (Mul a, Add c) and the next conv:
    1x1 without padding (foldable) or a padded depthwise 3x3 (not foldable)."""
    model = _conv_affine_hswish_model()
    rng = np.random.default_rng(5)
    graph = model.graph
    graph.output[0].name = "h"
    graph.node[-1].output[0] = "h"
    pads = [0, 0, 0, 0] if next_kernel == 1 else [1, 1, 1, 1]
    group = 1 if next_kernel == 1 else 4
    shape = (6, 4, 1, 1) if next_kernel == 1 else (4, 1, 3, 3)
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(0.8, np.float32), "a2"),
            numpy_helper.from_array(np.array(0.3, np.float32), "c2"),
            numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), "W2"),
            numpy_helper.from_array(rng.normal(size=shape[0]).astype(np.float32), "B2"),
        ]
    )
    graph.node.extend(
        [
            helper.make_node("Mul", ["h", "a2"], ["h_scaled"]),
            helper.make_node("Add", ["h_scaled", "c2"], ["h_affine"]),
            helper.make_node("Conv", ["h_affine", "W2", "B2"], ["y"], pads=pads, group=group),
        ]
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, shape[0], 8, 16]))
    return model


@pytest.mark.parametrize(
    ("next_kernel", "ops", "folded", "depthwise"),
    [
        (1, ["Conv", "HardSwish", "Conv"], 1, 0),
        (3, ["Conv", "HardSwish", "Conv", "Conv"], 0, 1),
    ],
)
def test_rewrite_graph_removes_the_affine_after_the_activation(next_kernel, ops, folded, depthwise):
    model = _post_affine_model(next_kernel)
    x = np.random.default_rng(6).normal(scale=3, size=(1, 3, 8, 16)).astype(np.float32)
    before = _session(model).run(None, {"x": x})[0]
    counts = rewrite_graph(model)
    onnx.checker.check_model(model)
    assert (counts["post_affine_folded"], counts["post_affine_depthwise"]) == (folded, depthwise)
    assert [n.op_type for n in model.graph.node] == ops
    after = _session(model).run(None, {"x": x})[0]
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)  # float32 reordering only


def test_optimized_model_matches_the_shipped_model(tmp_path, monkeypatch):
    monkeypatch.setenv("VOUCHERFLOW_MODEL_CACHE", str(tmp_path))
    path = optimized_model_path()
    assert path.parent == tmp_path and path.exists()
    assert optimized_model_path() == path  # cached, not rebuilt
    x = np.random.default_rng(2).uniform(-1, 1, size=(2, 3, 48, 200)).astype(np.float32)
    original = ort.InferenceSession(str(source_model_path()), providers=["CPUExecutionProvider"])
    rewritten = RapidRecognizer(path)
    np.testing.assert_allclose(rewritten.run(x), original.run(None, {"x": x})[0], atol=1e-4, rtol=0)
    assert len(rewritten.characters) == rewritten.run(x).shape[2]


@pytest.mark.parametrize("built", [optimized_model_path, int8_model_path])
def test_model_falls_back_to_the_shipped_file_when_the_cache_is_unwritable(
    built, tmp_path, monkeypatch
):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VOUCHERFLOW_MODEL_CACHE", str(blocker / "models"))
    assert built() == source_model_path()


def _pointwise_model(channels: int) -> onnx.ModelProto:
    """x -> 1x1 Conv (channels -> channels) -> 3x3 Conv (channels -> 8, padded) -> y."""
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(
            rng.normal(scale=0.1, size=(channels, channels, 1, 1)).astype(np.float32), "W1"
        ),
        numpy_helper.from_array(rng.normal(size=channels).astype(np.float32), "B1"),
        numpy_helper.from_array(
            rng.normal(scale=0.1, size=(8, channels, 3, 3)).astype(np.float32), "W2"
        ),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["pw"]),
        helper.make_node("Conv", ["pw", "W2"], ["y"], pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "pointwise",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, channels, 3, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8, 3, 10])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def _has_vnni() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def _assert_int8_close(after: np.ndarray, before: np.ndarray, tolerance: float) -> None:
    """int8 rounding only. With VNNI the largest error stays under `tolerance` of the output's
    range. onnxruntime multiplies uint8 activations by int8 weights; on x86 CPUs without VNNI
    (AVX2 only) it adds pairs of products in int16 (vpmaddubsw), which saturates on these
    random weights: seen on an AMD EPYC without VNNI, 4 % of the head's outputs off by more than
    5 % (the worst by 51 %), correlation 0.992 — the CPU's arithmetic, not the graph. There the
    test holds the bulk of the outputs to the bound and the whole to a correlation that a wrong
    transpose, scale or bias (errors of the output's whole range) cannot reach. The recognizer's
    readings on real slices are measured per CPU by bench.pipeline (docs/decisions-ocr.md).
    """
    err = np.abs(after - before) / np.abs(before).max()
    if _has_vnni():
        assert err.max() < tolerance
        return
    assert np.median(err) < tolerance / 2
    assert (err > tolerance).mean() < 0.1
    assert np.corrcoef(after.ravel(), before.ravel())[0, 1] > 0.98


def test_quantize_pointwise_convs_makes_only_wide_1x1_convs_int8():
    model = _pointwise_model(240)
    x = np.random.default_rng(8).uniform(0, 3, size=(2, 240, 3, 10)).astype(np.float32)
    before = _session(model).run(None, {"x": x})[0]
    assert quantize_pointwise_convs(model) == 1
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node] == [
        "Transpose",
        "DynamicQuantizeMatMul",
        "Transpose",
        "Conv",  # 3x3: kept fp32
    ]
    after = _session(model).run(None, {"x": x})[0]
    _assert_int8_close(after, before, 0.02)
    narrow = _pointwise_model(120)
    assert quantize_pointwise_convs(narrow) == 0
    assert [n.op_type for n in narrow.graph.node] == ["Conv", "Conv"]


def test_quantize_head_fuses_the_wide_matmul_and_its_bias_only():
    rng = np.random.default_rng(9)
    inits = [
        numpy_helper.from_array(rng.normal(size=(16, 16)).astype(np.float32), "Wn"),
        numpy_helper.from_array(rng.normal(size=(16, 1200)).astype(np.float32), "Wh"),
        numpy_helper.from_array(rng.normal(size=1200).astype(np.float32), "Bh"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "Wn"], ["neck"]),
        helper.make_node("MatMul", ["neck", "Wh"], ["logits"]),
        helper.make_node("Add", ["logits", "Bh"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5, 1200])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    x = rng.normal(size=(2, 5, 16)).astype(np.float32)
    before = _session(model).run(None, {"x": x})[0]
    assert quantize_head(model) == 1
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node] == ["MatMul", "DynamicQuantizeMatMul"]
    after = _session(model).run(None, {"x": x})[0]
    _assert_int8_close(after, before, 0.03)


def test_int8_model_is_cached_deterministic_and_reads_like_fp32(tmp_path, monkeypatch):
    monkeypatch.setenv("VOUCHERFLOW_MODEL_CACHE", str(tmp_path / "a"))
    path = int8_model_path()
    assert path.parent == tmp_path / "a" and path.name.endswith(f".int8pw{INT8_VERSION}.onnx")
    assert int8_model_path() == path  # cached, not rebuilt
    monkeypatch.setenv("VOUCHERFLOW_MODEL_CACHE", str(tmp_path / "b"))
    assert int8_model_path().read_bytes() == path.read_bytes()  # no calibration: same bytes
    model = onnx.load(str(path))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("DynamicQuantizeMatMul") == 9 and "ConvInteger" not in ops  # 8 convs, head
    x = np.random.default_rng(2).uniform(-1, 1, size=(2, 3, 48, 200)).astype(np.float32)
    fp32 = RapidRecognizer(optimized_model_path()).run(x)
    int8 = RapidRecognizer(path)
    out = int8.run(x)
    assert len(int8.characters) == out.shape[2]
    assert (out.argmax(axis=2) == fp32.argmax(axis=2)).mean() > 0.95
    assert np.abs(out - fp32).max() < 0.25


def test_rec_input_scales_to_48_and_pads_with_zero_like_rapidocr():
    gray = np.full((64, 100), 255, np.uint8)
    gray[20:40, 10:90] = 0
    x = rec_input(gray, min_ratio=0)
    assert x.shape == (3, 48, 75)  # int(48 * 100 / 64)
    assert x.max() == pytest.approx(1.0) and x.min() == pytest.approx(-1.0)
    padded = rec_input(gray, min_ratio=4)
    assert padded.shape == (3, 48, 192)
    np.testing.assert_array_equal(padded[:, :, :75], x)
    assert not padded[:, :, 75:].any()  # padding is 0, the mid-grey PP-OCR was trained with
    bgr = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(rec_input(bgr, min_ratio=0), x)


def test_frame_count_matches_the_model():
    rec = get_rapid_recognizer()
    for width in (75, 96, 192, 193, 196, 197, 250, 401):
        frames = rec.run(np.zeros((1, 3, 48, width), np.float32)).shape[1]
        assert frames == frame_count(width), width


def test_width_groups_batches_only_similar_widths_in_order():
    widths = [192, 400, 192, 200, 440, 192]
    assert width_groups(widths, slack=0.0, max_batch=8) == [[0, 2, 5], [3], [1], [4]]
    assert width_groups(widths, slack=0.1, max_batch=8) == [[0, 2, 5, 3], [1, 4]]
    assert width_groups(widths, slack=0.1, max_batch=2) == [[0, 2], [5, 3], [1, 4]]
    assert width_groups([]) == []


def test_pad_batch_right_pads_each_input_with_zero():
    a = np.ones((3, 48, 16), np.float32)
    b = np.full((3, 48, 24), 2.0, np.float32)
    batch = pad_batch([a, b])
    assert batch.shape == (2, 3, 48, 24)
    assert (batch[0, :, :, :16] == 1).all() and not batch[0, :, :, 16:].any()
    assert (batch[1] == 2).all()


def test_batched_recognition_reads_like_one_image_per_run():
    rec = RapidRecognizer(optimized_model_path())  # fp32: batch mates do not matter
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 255, size=(64, w), dtype=np.uint8) for w in (150, 150, 300)]
    inputs = [rec_input(im) for im in images]
    assert inputs[0].shape == inputs[1].shape  # both padded to the 192 px minimum
    together = rec.run(pad_batch(inputs[:2]))
    for row in range(2):
        alone = rec.run(inputs[row][None])[0]
        np.testing.assert_allclose(together[row], alone, atol=1e-4)
    wide = rec.run(inputs[2][None])
    assert wide.shape[1] == frame_count(inputs[2].shape[2])


def test_int8_recognizer_reads_each_slice_in_its_own_run(monkeypatch):
    """The int8 graph quantizes a run's input over the whole batch, so the recognizer runs it
    one slice per run: a slice reads the same whatever other slices come with it."""
    rec = get_rapid_recognizer()
    assert rec.int8 and rec.max_batch == 1
    runs = []
    run = rec.run
    monkeypatch.setattr(rec, "run", lambda batch: runs.append(len(batch)) or run(batch))
    rng = np.random.default_rng(4)
    images = [rng.integers(0, 255, size=(64, 150), dtype=np.uint8) for _ in range(3)]
    together = rec.recognize(images, ["", "", ""], [(), (), ()])
    assert runs == [1, 1, 1]
    for image, reading in zip(images, together, strict=True):
        assert rec.recognize([image], [""], [()]) == [reading]
