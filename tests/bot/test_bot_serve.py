"""bot/serve.py: Rasa gets its API token and allowed origins inside the process, never on the command line."""
from __future__ import annotations

import pytest

from bot.serve import rasa_arguments


def test_token_and_origins_are_added_inside_the_process():
    argv = rasa_arguments(["--port", "5005"], {"RASA_API_TOKEN": "s3cret",
                                               "CHAT_ALLOWED_ORIGINS": "http://a:8000/, http://b:8000"})
    assert argv == ["rasa", "run", "--port", "5005", "--auth-token", "s3cret", "--cors", "http://a:8000", "http://b:8000"]


def test_no_origin_means_no_cors():
    assert "--cors" not in rasa_arguments([], {"RASA_API_TOKEN": "t"})


@pytest.mark.parametrize("environ", [{}, {"RASA_API_TOKEN": "t", "CHAT_ALLOWED_ORIGINS": "*"}])
def test_refuses_to_start_without_a_token_or_with_any_origin(environ):
    with pytest.raises(SystemExit):
        rasa_arguments([], environ)
