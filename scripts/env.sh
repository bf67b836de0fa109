# Sourced by the Makefile's recipes: ports, URLs and quiet, offline settings shared by every service.
export BACKEND_PORT="${BACKEND_PORT:-8000}"
export RASA_PORT="${RASA_PORT:-5005}"
export ACTION_PORT="${ACTION_PORT:-5055}"
export REDIS_PORT="${REDIS_PORT:-6390}"  # the stack's private Redis (not a system one on 6379)
export BACKEND_URL="${BACKEND_URL:-http://localhost:$BACKEND_PORT}"
export RASA_PUBLIC_URL="${RASA_PUBLIC_URL:-http://localhost:$RASA_PORT}"
export ACTION_ENDPOINT_URL="${ACTION_ENDPOINT_URL:-http://localhost:$ACTION_PORT/webhook}"
mkdir -p var
[ -s var/rasa_api_token ] || python3 -c "import secrets; print(secrets.token_hex(24))" > var/rasa_api_token
export RASA_API_TOKEN="${RASA_API_TOKEN:-$(cat var/rasa_api_token)}"
# ONNX export of the embedding model (knowledge_index/embedder.py), made once; `make clean` removes it with var/.
export KNOWLEDGE_ENCODER_CACHE="${KNOWLEDGE_ENCODER_CACHE:-$PWD/var/encoders}"
# Offline and quiet: models come from local wheels, no telemetry, readable logs.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 RASA_TELEMETRY_ENABLED=false
export TF_CPP_MIN_LOG_LEVEL=3 SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONWARNINGS="ignore::DeprecationWarning"
