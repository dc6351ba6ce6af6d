"""The two OCR engines behind ocr.py: tesseract (in-process through tesserocr, else one CLI
process per call) and PP-OCRv4 text-line recognition (the model in the rapidocr-onnxruntime
wheel, rewritten once by rec_model.py, run by our own onnxruntime session, loaded once)."""

import math
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path

# Tesseract's OpenMP threads fight each other across workers on a 2-core box; one per process.
os.environ["OMP_THREAD_LIMIT"] = "1"

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytesseract  # noqa: E402

# onnxruntime threads per recognizer; workers run one process per core.
RAPID_THREADS = 1
# The recognizer's input height; it emits about one frame per 8 px of input width.
REC_HEIGHT = 48
REC_FRAME_PX = 8
# Slices of a voucher go through the recognizer in batches of equal input width (at least
# RAPID_MIN_RATIO x 48 px, so all narrow slices share one batch).
# Compute grows linearly with the padded width and the per-run overhead is small: on 40
# vouchers, batches padded up to 15 % cost 1-2 % more CPU than equal-width ones, 30 % cost
# 8 % more; equal-width batches save 1-6 % against one run per slice.
BATCH_WIDTH_SLACK = 0.0
MAX_BATCH = 8
# Narrowest input (width / 48 px height). rapidocr pads every line to 320 px (ratio 6.67),
# but 62 % of prepared slices are narrower (median 234 px), and compute grows with width.
# At 4.0 the scans read the same (100 % exact on 2 x 40 vouchers) for ~20 % less OCR CPU;
# at 2.0 one amount lost its decimal point (re-measured with the batched recognizer: at 2.0
# and 3.0 amount 905004.90 still reads 905004,90 on the seed-7 pipeline scans).
RAPID_MIN_RATIO = 4.0
# The same for free text (names, banks, places, text: no alphabet) and choices, whose
# misreadings are not a lost decimal point: 11 % of the recognizer's input columns on the
# scans were this padding, mostly on 2-3 character names and choices. At 2.0 the scans
# (2 x 40, seed 7) read the same (every field exact, high-confidence counts within +-1) for
# ~5-9 % less recognizer CPU (docs/decisions-ocr.md, "Speed, round 5").
RAPID_MIN_RATIO_FREE_TEXT = 2.0
# Run the recognizer with its wide 1x1 convs and its CTC head in int8
# (imaging/rec_model.int8_model_path): ~20-25 % less recognizer CPU, the same texts on every
# bench set; confidences move
# (docs/decisions-ocr.md, "Speed, round 6"). False: the fp32 rewritten graph.
REC_INT8 = True
# The int8 graph quantizes each run's input over the whole batch tensor, so in a batch a
# slice's probabilities would depend on the other slices of its batch (argmax frames and
# confidences moved on 190 batched slices). Run it one slice per run: each slice's reading
# depends on that slice alone, as with fp32 batches.
MAX_BATCH_INT8 = 1

_rapid_lock = threading.Lock()
_rapid: "RapidRecognizer | None" = None
_tess_lock = threading.Lock()
_tess_apis: dict[tuple[str, int], object] = {}


def tessdata_dir() -> str:
    """Where the system tesseract keeps its models (tesserocr's wheel has no default path)."""
    if os.environ.get("TESSDATA_PREFIX"):
        return os.environ["TESSDATA_PREFIX"]
    out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True)
    found = re.search(r'"([^"]+)"', out.stdout + out.stderr)
    return found.group(1) if found else "/usr/share/tesseract-ocr/5/tessdata/"


def get_tesseract_api(lang: str, psm: int):
    """The process-wide in-process tesseract for (lang, psm), or None without tesserocr.

    Starting the CLI costs ~110-230 ms CPU per voucher (loading the model); reading one
    line in-process costs ~11 ms.
    """
    key = (lang, psm)
    if key not in _tess_apis:
        with _tess_lock:
            if key not in _tess_apis:
                try:
                    from tesserocr import PyTessBaseAPI
                except ImportError:
                    _tess_apis[key] = None
                else:
                    api = PyTessBaseAPI(path=tessdata_dir(), lang=lang, psm=psm)
                    api.SetVariable("preserve_interword_spaces", "1")
                    _tess_apis[key] = api
    return _tess_apis[key]


def run_tesseract_batch(
    images: list[np.ndarray], lang: str, psm: int = 7, whitelist: str = ""
) -> list[tuple[str, float]]:
    """OCR many single-line gray/binary images with one loaded tesseract (in-process when
    tesserocr is installed, else ONE CLI process with a list file, one page per image).

    Returns (text, confidence 0-1) per image; confidence is the lowest word confidence.
    """
    if not images:
        return []
    api = get_tesseract_api(lang, psm)
    if api is not None:
        with _tess_lock:
            api.SetVariable("tessedit_char_whitelist", whitelist)
            results = []
            for image in images:
                image = np.ascontiguousarray(image)
                h, w = image.shape[:2]
                api.SetImageBytes(image.tobytes(), w, h, 1, w)
                text = " ".join(api.GetUTF8Text().split())
                confs = api.AllWordConfidences()
                if not text or not confs:
                    results.append(("", 0.0))
                else:
                    results.append((text, min(max(c, 0) for c in confs) / 100.0))
            return results
    return run_tesseract_cli_batch(images, lang, psm, whitelist)


def run_tesseract_cli_batch(
    images: list[np.ndarray], lang: str, psm: int = 7, whitelist: str = ""
) -> list[tuple[str, float]]:
    """The same through ONE tesseract process (a list file, one page per image)."""
    config = f"--psm {psm} -c preserve_interword_spaces=1"
    if whitelist:
        config += f" -c tessedit_char_whitelist={whitelist}"
    with tempfile.TemporaryDirectory(prefix="vf_ocr_") as tmp:
        paths = []
        for i, image in enumerate(images):
            path = Path(tmp) / f"{i:04d}.png"
            cv2.imwrite(str(path), image)
            paths.append(str(path))
        list_file = Path(tmp) / "pages.txt"
        list_file.write_text("\n".join(paths) + "\n", encoding="utf-8")
        data = pytesseract.image_to_data(
            str(list_file), lang=lang, config=config, output_type=pytesseract.Output.DICT
        )
    words: list[list[tuple[int, int, str, float]]] = [[] for _ in images]
    for page, line, text, conf in zip(
        data["page_num"], data["line_num"], data["text"], data["conf"], strict=True
    ):
        text = text.strip()
        if text and 1 <= page <= len(images):
            words[page - 1].append((line, len(words[page - 1]), text, float(conf)))
    results = []
    for page_words in words:
        if not page_words:
            results.append(("", 0.0))
            continue
        page_words.sort()
        text = " ".join(w[2] for w in page_words)
        conf = min(max(w[3], 0.0) for w in page_words) / 100.0
        results.append((text, conf))
    return results


def run_tesseract_single(
    image: np.ndarray, lang: str, psm: int = 7, whitelist: str = ""
) -> tuple[str, float]:
    """One image, one tesseract process: the slow path, kept for the bench comparison."""
    config = f"--psm {psm}"
    if whitelist:
        config += f" -c tessedit_char_whitelist={whitelist}"
    data = pytesseract.image_to_data(
        image, lang=lang, config=config, output_type=pytesseract.Output.DICT
    )
    pairs = [(t.strip(), float(c)) for t, c in zip(data["text"], data["conf"], strict=True)]
    pairs = [p for p in pairs if p[0]]
    if not pairs:
        return "", 0.0
    return " ".join(p[0] for p in pairs), min(max(p[1], 0.0) for p in pairs) / 100.0


class RapidRecognizer:
    """PP-OCRv4 text-line recognizer (no detector: a field slice is already one line).

    Its decoder can be limited to an alphabet, which is how capital numerals and dates stay
    inside their character set; the confidence is the lowest per-character probability
    (within the alphabet when there is one), so one doubtful glyph makes the field doubtful.

    The onnxruntime session is built here (not through rapidocr's wrapper) from the model file
    in the rapidocr wheel, rewritten once by imaging.rec_model (and by default its int8
    variant, REC_INT8): one intra-op thread (workers run one process per core), sequential
    execution, all graph optimizations, memory arena on.
    """

    def __init__(self, model_path: Path | None = None) -> None:
        import onnxruntime as ort

        from imaging.rec_model import int8_model_path, is_int8_model, optimized_model_path

        self.model_path = model_path or (int8_model_path() if REC_INT8 else optimized_model_path())
        self.int8 = is_int8_model(self.model_path)
        self.max_batch = MAX_BATCH_INT8 if self.int8 else MAX_BATCH
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = RAPID_THREADS
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(self.model_path), opts, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        meta = self._session.get_modelmeta().custom_metadata_map
        # rapidocr's CTCLabelDecode: blank first, the model's characters, then a space.
        self.characters: list[str] = ["blank", *meta["character"].splitlines(), " "]
        self._index = {c: i for i, c in enumerate(self.characters)}
        self._classes_cache: dict[tuple, list[np.ndarray]] = {}

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Per-frame class probabilities (N, frames, classes) for a (N, 3, 48, W) batch."""
        return self._session.run(None, {self._input: batch})[0]

    def _classes(self, alphabet: str, variants: dict[str, str]) -> list[np.ndarray]:
        """Model class indices per allowed character (blank first), variant glyphs included."""
        key = (alphabet, tuple(sorted(variants.items())))
        classes = self._classes_cache.get(key)
        if classes is None:
            classes = [np.array([0])]
            for ch in alphabet:
                idx = [self._index[c] for c in ch + variants.get(ch, "") if c in self._index]
                classes.append(np.array(idx or [0]))
            self._classes_cache[key] = classes
        return classes

    def recognize(
        self,
        images: list[np.ndarray],
        alphabets: list[str],
        choices: list[tuple[str, ...]],
        variants: dict[str, str] | None = None,
    ) -> list[tuple[str, float]]:
        """Read each gray or BGR line image; `alphabets[i]` ("" = any) limits what image i may
        hold, and non-empty `choices[i]` makes it pick the most likely of those strings instead.
        `variants` maps an allowed character to glyphs that mean the same (参 for 叁): their
        probabilities count for it. Images of equal input width share one model run. Free
        text and choices are padded to a narrower minimum (RAPID_MIN_RATIO_FREE_TEXT)."""
        inputs = [
            rec_input(image, RAPID_MIN_RATIO_FREE_TEXT if choice or not alphabet else None)
            for image, alphabet, choice in zip(images, alphabets, choices, strict=True)
        ]
        results: list[tuple[str, float] | None] = [None] * len(images)
        for group in width_groups([x.shape[2] for x in inputs], max_batch=self.max_batch):
            probs = self.run(pad_batch([inputs[i] for i in group]))
            for row, i in enumerate(group):
                # Frames past this image's own width saw only the batch padding.
                frames = probs[row, : frame_count(inputs[i].shape[2])]
                if choices[i]:
                    results[i] = self._pick_choice(frames, choices[i])
                else:
                    results[i] = self._decode(frames, alphabets[i], variants or {})
        return [r if r is not None else ("", 0.0) for r in results]

    def _decode(
        self, probs: np.ndarray, alphabet: str, variants: dict[str, str]
    ) -> tuple[str, float]:
        if alphabet:
            classes = self._classes(alphabet, variants)
            probs = np.stack([probs[:, idx].sum(axis=1) for idx in classes], axis=1)
            # Belief the model puts on glyphs that cannot occur here (任 for 仟) is not doubt
            # about which allowed character it is; the type's shape check guards the rest.
            probs = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-9, None)
            chars = ["", *alphabet]
        else:
            chars = self.characters
        idx = probs.argmax(axis=1)
        out, confs, prev = [], [], 0
        for t, k in enumerate(idx):
            if k != 0 and k != prev:
                out.append(chars[k])
                confs.append(float(probs[t, k]))
            prev = k
        if not out:
            return "", 0.0
        return "".join(out), min(confs)

    def _pick_choice(self, probs: np.ndarray, options: tuple[str, ...]) -> tuple[str, float]:
        """Most likely option under CTC; its confidence is its share of the options' likelihood,
        lowered when even the best option explains the image much worse than a free reading."""
        log_probs = np.log(np.clip(probs, 1e-12, 1.0))
        scores = []
        for option in options:
            labels = [self._index[c] for c in option if c in self._index]
            scores.append(ctc_log_likelihood(log_probs, labels) if labels else -np.inf)
        scores_arr = np.array(scores)
        best = int(scores_arr.argmax())
        if not np.isfinite(scores_arr[best]):
            return "", 0.0
        share = float(1.0 / np.exp(scores_arr - scores_arr[best]).sum())
        free = float(log_probs.max(axis=1).sum())  # best single path, any text
        fit = float(np.exp(min(0.0, scores_arr[best] - free) / max(1, len(options[best]))))
        return options[best], share * fit


def rec_input(image: np.ndarray, min_ratio: float | None = None) -> np.ndarray:
    """A gray or BGR line image as the recognizer's (3, 48, W) input, as rapidocr prepares it:
    scaled to 48 px high, normalized to [-1, 1], right-padded with 0 (what PP-OCR was trained
    with) to at least `min_ratio` x 48 px."""
    min_ratio = RAPID_MIN_RATIO if min_ratio is None else min_ratio
    h, w = image.shape[:2]
    width = max(1, int(REC_HEIGHT * max(min_ratio, w / h)))
    resized_w = min(width, math.ceil(REC_HEIGHT * w / h))
    line = cv2.resize(image, (resized_w, REC_HEIGHT)).astype(np.float32) * (2.0 / 255.0) - 1.0
    out = np.zeros((3, REC_HEIGHT, width), np.float32)
    if line.ndim == 2:
        out[:, :, :resized_w] = line
    else:
        out[:, :, :resized_w] = line.transpose(2, 0, 1)
    return out


def frame_count(width: int) -> int:
    """Output frames for an input `width` px wide (checked against the model in the tests)."""
    return (width + 3) // REC_FRAME_PX


def width_groups(
    widths: list[int], slack: float | None = None, max_batch: int | None = None
) -> list[list[int]]:
    """Indices grouped for batched runs: sorted by width, a group closes when the next width
    exceeds its narrowest by more than `slack` or it holds `max_batch` images."""
    slack = BATCH_WIDTH_SLACK if slack is None else slack
    max_batch = MAX_BATCH if max_batch is None else max_batch
    groups: list[list[int]] = []
    for i in sorted(range(len(widths)), key=lambda k: (widths[k], k)):
        if (
            groups
            and len(groups[-1]) < max_batch
            and widths[i] <= widths[groups[-1][0]] * (1 + slack)
        ):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def pad_batch(inputs: list[np.ndarray]) -> np.ndarray:
    """Stack (3, 48, W_i) inputs into one (N, 3, 48, max W) batch, right-padded with 0."""
    width = max(x.shape[2] for x in inputs)
    batch = np.zeros((len(inputs), *inputs[0].shape[:2], width), np.float32)
    for row, x in enumerate(inputs):
        batch[row, :, :, : x.shape[2]] = x
    return batch


def ctc_log_likelihood(log_probs: np.ndarray, labels: list[int]) -> float:
    """log P(labels | frames) by the CTC forward algorithm; blank is class 0."""
    ext = [0]
    for label in labels:
        ext += [label, 0]
    n = len(ext)
    ext_arr = np.array(ext)
    # A state may skip the blank before it when its label differs from the one two back.
    skip = np.zeros(n, dtype=bool)
    for s in range(2, n):
        skip[s] = ext[s] != 0 and ext[s] != ext[s - 2]
    alpha = np.full(n, -np.inf)
    alpha[0] = log_probs[0, 0]
    if n > 1:
        alpha[1] = log_probs[0, ext[1]]
    for t in range(1, log_probs.shape[0]):
        prev1 = np.concatenate(([-np.inf], alpha[:-1]))
        prev2 = np.concatenate(([-np.inf, -np.inf], alpha[:-2]))
        prev2 = np.where(skip, prev2, -np.inf)
        alpha = np.logaddexp(np.logaddexp(alpha, prev1), prev2) + log_probs[t, ext_arr]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if n > 1 else alpha[-1])


def get_rapid_recognizer() -> RapidRecognizer:
    """The process-wide recognizer, loaded on first use (workers call this before forking)."""
    global _rapid
    if _rapid is None:
        with _rapid_lock:
            if _rapid is None:
                _rapid = RapidRecognizer()
    return _rapid
