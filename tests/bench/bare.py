"""The baseline: a bare Litestar route returning a constant JSON body, served like Mynth."""

from __future__ import annotations

import argparse

import uvicorn
from litestar import Litestar, get

BODY = {"id": "prs_constant", "title": "Aurora Vale", "visibility": "private"}


@get("/bare", operation_id="Bare")
async def bare() -> dict[str, str]:
    return BODY


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = Litestar([bare], openapi_config=None)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=args.port, log_config=None, access_log=False, lifespan="on"
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
