# Sourced by the Makefile's recipes: ports, URLs and quiet, offline settings shared by every service.
export BACKEND_PORT="${BACKEND_PORT:-8000}"
export RASA_PORT="${RASA_PORT:-5005}"
export ACTION_PORT="${ACTION_PORT:-5055}"
export REDIS_PORT="${REDIS_PORT:-6390}"  # the stack's private Redis (not a system one on 6379)
export BACKEND_URL="${BACKEND_URL:-http://localhost:$BACKEND_PORT}"
export RASA_PUBLIC_URL="${RASA_PUBLIC_URL:-http://localhost:$RASA_PORT}"
export ACTION_ENDPOINT_URL="${ACTION_ENDPOINT_URL:-http://localhost:$ACTION_PORT/webhook}"
# Secrets, the database, logs: readable by their owner only (what the services create inherits this mask).
umask 077
mkdir -p var
# Generated once, kept in var/ (mode 0600), handed to the services in their environment, never on a command line.
new_secret() {
  [ -s "$1" ] || python3 -c "import secrets; print(secrets.token_hex(24))" > "$1"
  chmod 600 "$1"
}
new_secret var/rasa_api_token
new_secret var/redis_password
new_secret var/assistant.key
new_secret var/channel.key
new_secret var/twilio_auth_token
new_secret var/nlu.key
[ -f var/portal.db ] && chmod 600 var/portal.db
export RASA_API_TOKEN="${RASA_API_TOKEN:-$(cat var/rasa_api_token)}"
export REDIS_PASSWORD="${REDIS_PASSWORD:-$(cat var/redis_password)}"
# Shared by the backend and the action server only: the key of the per-call tokens the assistant acts with
export ASSISTANT_KEY_FILE="${ASSISTANT_KEY_FILE:-$PWD/var/assistant.key}"
# Shared by the backend and the Rasa server only: the key of the service tokens the Teams channel asks the backend
# who a Teams user is with
export CHANNEL_KEY_FILE="${CHANNEL_KEY_FILE:-$PWD/var/channel.key}"
# Shared by the Rasa server and the action server only: the key of the assistant's own message parsing
# (/webhooks/nlu/parse), with which the action server reads a message part by part (actions/clauses.py)
export NLU_KEY_FILE="${NLU_KEY_FILE:-$PWD/var/nlu.key}"
# The phone channel checks Twilio's request signatures with the account's auth token: set TWILIO_AUTH_TOKEN (or
# TWILIO_AUTH_TOKEN_FILE) to it in production; this local one only lets `make call` sign its requests.
export TWILIO_AUTH_TOKEN_FILE="${TWILIO_AUTH_TOKEN_FILE:-$PWD/var/twilio_auth_token}"
# Portal pages allowed to embed the chat widget and open its socket (CORS and frame-ancestors)
export CHAT_ALLOWED_ORIGINS="${CHAT_ALLOWED_ORIGINS:-http://localhost:$BACKEND_PORT http://127.0.0.1:$BACKEND_PORT}"
# Conversations (Redis tracker store) and chat session bindings expire after this idle time
export CONVERSATION_IDLE_SECONDS="${CONVERSATION_IDLE_SECONDS:-86400}"
# ONNX export of the embedding model (knowledge_index/embedder.py), made once; `make clean` removes it with var/.
export KNOWLEDGE_ENCODER_CACHE="${KNOWLEDGE_ENCODER_CACHE:-$PWD/var/encoders}"
# Offline and quiet: models come from local wheels, no telemetry, readable logs.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 RASA_TELEMETRY_ENABLED=false
export TF_CPP_MIN_LOG_LEVEL=3 SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONWARNINGS="ignore::DeprecationWarning"
