"""DB-GPT's own model controller (PyPI dbgpt==0.8.2) on uvicorn, for side-by-side figures.

Usage: python dbgpt_controller_server.py PORT [memory|PATH/TO/registry.db]

The checker runs hourly: the bench measures request handling only.
"""
import sys

import uvicorn
from fastapi import FastAPI

from dbgpt.model.cluster.controller.controller import initialize_controller
from dbgpt.model.cluster.registry import EmbeddedModelRegistry

port = int(sys.argv[1])
storage = sys.argv[2] if len(sys.argv) > 2 else "memory"
if storage == "memory":
    registry = EmbeddedModelRegistry(heartbeat_interval_secs=3600, heartbeat_timeout_secs=7200)
else:
    from dbgpt.model.cluster.registry_impl.storage import StorageModelRegistry
    from dbgpt.storage.metadata import db

    registry = StorageModelRegistry.from_url(
        f"sqlite:///{storage}", "registry", try_to_create_db=True,
        heartbeat_interval_secs=3600, heartbeat_timeout_secs=7200)
    db.create_all()
app = FastAPI()
initialize_controller(app=app, registry=registry)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
