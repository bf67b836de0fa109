# The assistant's image: the Rasa server (with its channels) and the action server. Needs the trained model:
# `make model` first (models/portal.tar.gz is not in git). Build from the repository root:
#   docker build -f deploy/docker/rasa.Dockerfile -t registry.example.com/portal-rasa:1.0.0 .
FROM python:3.10-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RASA_TELEMETRY_ENABLED=false HOME=/tmp
WORKDIR /app
COPY requirements/rasa.txt requirements/rasa.lock requirements/
RUN pip install -r requirements/rasa.txt -c requirements/rasa.lock
COPY actions actions
COPY bot bot
COPY config.yml credentials.yml endpoints.yml ./
COPY models/portal.tar.gz models/portal.tar.gz
RUN useradd --uid 10001 --home-dir /tmp --no-create-home portal
USER 10001
EXPOSE 5005 5055
CMD ["python", "-m", "bot.serve", "--interface", "0.0.0.0", "--port", "5005", "--enable-api", \
     "--model", "models/portal.tar.gz", "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"]
