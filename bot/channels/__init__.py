"""Channel adapters: each authenticates and translates, nothing else (bot/identity.py does the identity part).

Adding a channel is one module here plus its entry in credentials.yml (the one list of channels, where each
adapter also declares the case channel code it records).
"""
from bot import rasa_speedups

rasa_speedups.install()  # Rasa imports the channel modules at start-up, before it handles any message

from bot import conversation_store  # noqa: E402

conversation_store.install()  # before Rasa builds its tracker store: a failing store fails the turn, pre-ping

from bot import action_failures  # noqa: E402

action_failures.install()  # a turn that cannot reach any action server fails whole (nothing kept, "send it again")
