# The portal backend's image (backend, knowledge index, release steps). Build from the repository root:
#   docker build -f deploy/docker/app.Dockerfile -t registry.example.com/portal-app:1.0.0 .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
WORKDIR /app
COPY requirements/app.txt requirements/app.lock requirements/
# torch's CPU build: requirements/app.txt pins torch==2.13.0, which the CPU wheel index serves as 2.13.0+cpu (the
# default PyPI wheel pulls several GB of CUDA libraries the backend never uses).
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements/app.txt -c requirements/app.lock
COPY backend backend
COPY knowledge_index knowledge_index
COPY data/knowledge data/knowledge
COPY data/taxonomy data/taxonomy
COPY bot/web bot/web
# /index: the knowledge index volume's mount point, owned by the service user so that a new volume is too.
RUN useradd --uid 10001 --home-dir /tmp --no-create-home portal && mkdir /index && chown 10001:10001 /index
USER 10001
EXPOSE 8000
CMD ["uvicorn", "backend.main:app", "--host", "0.0.0.0", "--port", "8000"]
