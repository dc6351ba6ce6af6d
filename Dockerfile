# One image for the API, the RQ workers and the one-shot migration.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim libzbar0 libgl1 libglib2.0-0 \
      fonts-noto-cjk fonts-arphic-ukai curl \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OMP_THREAD_LIMIT=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY workers ./workers
COPY imaging ./imaging
COPY entry ./entry
COPY authorization ./authorization
COPY storage ./storage
COPY synth ./synth
COPY cli ./cli
COPY verification ./verification
RUN pip install --no-cache-dir .
# The leaner recognizer graph (imaging/rec_model.py), built once into the image.
ENV VOUCHERFLOW_MODEL_CACHE=/opt/voucherflow/models
RUN python -m imaging.rec_model

RUN useradd --system --uid 10001 voucherflow
USER voucherflow
EXPOSE 8000
CMD ["voucherflow", "serve", "--host", "0.0.0.0", "--port", "8000"]
