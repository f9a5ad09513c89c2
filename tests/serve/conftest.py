"""Shared fixtures for the serving tests: the tiny Qwen2.5-VL, one engine over it, and
real uvicorn servers on free loopback ports (in threads, so tests can read the engine's
batching counters)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from serve_helpers import LiveServer, start_server


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_vl_dir) -> Path:
    return tiny_vl_dir  # the session's tiny Qwen2.5-VL (tests/conftest.py)


@pytest.fixture(scope="session")
def tiny_loaded(tiny_model_dir):
    from lingshu.models import LoadOptions, load_model

    return load_model(str(tiny_model_dir), LoadOptions(device="cpu"))


@pytest.fixture(scope="session")
def engine(tiny_loaded):
    from lingshu.inference import Engine as GenerationEngine

    eng = GenerationEngine(tiny_loaded, max_batch_size=8, batch_wait_s=0.02)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def base_settings():
    from lingshu.serve.settings import ServerSettings

    return ServerSettings(
        served_model_name="tiny",
        allowed_hosts=("localhost", "127.0.0.1", "::1", "[::1]"),
        default_temperature=0.0,
    )


@pytest.fixture(scope="session")
def server(engine, base_settings) -> Iterator[LiveServer]:
    """The default server: no API key, no page, data-URI images only."""
    live, stop = start_server(engine, base_settings)
    yield live
    stop()


@pytest.fixture(scope="session")
def make_server(engine, base_settings):
    """Start extra servers (sharing the engine) with changed settings; stopped at the end."""
    stops = []

    def make(**changes) -> LiveServer:
        live, stop = start_server(engine, replace(base_settings, **changes))
        stops.append(stop)
        return live

    yield make
    for stop in stops:
        stop()
