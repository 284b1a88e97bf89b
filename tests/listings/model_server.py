"""A local OpenAI-compatible server (real HTTP, FastAPI under uvicorn in a thread) whose
answers are scripted by the item's brand, so each way a model can go wrong is exercised:

    brand starts with   the server answers
    Good                a title that passes every rule
    Long                that title plus filler words, far over the limit
    Nobrand             the title without its brand
    Fluffy              the title wrapped in fluff words ("Amazing ... L@@K")
    Invent              the title with a colour the item does not have
    Nogarment           the title without the garment type (cannot be repaired)
    Slow                a good title after `slow_seconds` (over the client's time-out)
    Fail                HTTP 500
    Busy                HTTP 429 with Retry-After
    Empty               an empty message
    anything else       `default` (one of the above, "good" unless set)

With `mix=True` the behaviour is chosen from a hash of the item's facts instead (the
benchmark's scripted mix). A message with an image is answered with vision JSON."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from stocksync.simulators.server import ServerThread

BEHAVIOURS = ("good", "long", "nobrand", "fluffy", "invent", "nogarment", "slow", "fail",
              "busy", "empty")
# The benchmark's mix, out of 20: what a mid-sized local model might do on a catalog.
MIX = ("good",) * 12 + ("long",) * 2 + ("fluffy",) * 2 + ("nobrand", "invent",
                                                          "nogarment", "fail")
FILLER = ["Premium", "Quality", "Comfortable", "Everyday", "Wear", "For", "All", "Seasons",
          "Work", "Weekend", "Travel", "Holiday", "Gift", "Idea", "Classic", "Modern"]
VISION_ANSWER = {"material": {"value": "Denim", "confidence": 0.82},
                 "pattern": {"value": "Solid", "confidence": 0.91},
                 "garment_type": {"value": "Jacket", "confidence": 0.88},
                 "neckline": {"value": None, "confidence": 0.2},
                 "sleeve_length": {"value": "Long Sleeve", "confidence": 0.77}}


def _facts(text: str) -> dict[str, str]:
    marker = "(use only these facts): "
    start = text.find(marker)
    if start < 0:
        return {}
    line = text[start + len(marker):].splitlines()[0]
    facts: dict[str, str] = json.loads(line)
    return facts


def _good(facts: dict[str, str]) -> list[str]:
    gender = {"men": "Men's", "women": "Women's"}.get(facts.get("gender", "").lower(),
                                                    facts.get("gender", ""))
    parts = [facts.get("brand", ""), gender, facts.get("material", ""),
             facts.get("garment_type", ""), facts.get("colour", "")]
    if facts.get("size"):
        parts.append(f"Size {facts['size']}")
    return [p for p in " ".join(parts).split() if p]


class ModelServer:
    def __init__(self, *, default: str = "good", slow_seconds: float = 3.0,
                 mix: bool = False) -> None:
        self.default, self.slow_seconds, self.mix = default, slow_seconds, mix
        self.calls: Counter[str] = Counter()
        self.prompts: list[list[dict[str, Any]]] = []
        self.images: dict[str, bytes] = {}  # served at /img/{name}; "slow..." waits
        app = FastAPI()
        app.post("/v1/chat/completions")(self._complete)
        app.get("/img/{name}")(self._image)
        self.server = ServerThread(app)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/v1"

    def __enter__(self) -> ModelServer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def _image(self, name: str) -> Response:
        if name not in self.images:
            return Response(status_code=404)
        if name.startswith("slow"):
            time.sleep(self.slow_seconds)
        return Response(self.images[name], media_type="image/png")

    def behaviour(self, facts: dict[str, str]) -> str:
        if self.mix:
            digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).digest()
            return MIX[digest[0] % len(MIX)]
        brand = facts.get("brand", "").lower()
        return next((b for b in BEHAVIOURS if brand.startswith(b)), self.default)

    def _complete(self, request: Request, body: dict[str, Any]) -> Any:
        messages = body["messages"]
        self.prompts.append(messages)
        content = messages[-1]["content"]
        if isinstance(content, list):  # an image: a vision request
            self.calls["vision"] += 1
            return _answer(body["model"], "```json\n" + json.dumps(VISION_ANSWER) + "\n```")
        facts = _facts(content)
        behaviour = self.behaviour(facts)
        self.calls[behaviour] += 1
        words = _good(facts)
        if behaviour == "fail":
            return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, 500)
        if behaviour == "busy":
            return JSONResponse({"error": {"message": "slow down", "type": "rate_limit"}},
                                429, headers={"Retry-After": "1"})
        if behaviour == "slow":
            time.sleep(self.slow_seconds)  # a thread of the server's pool, not its loop
        if behaviour == "long":
            words += FILLER * 2
        if behaviour == "nobrand":
            words = words[len(facts.get("brand", "").split()):]
        if behaviour == "fluffy":
            words = ["Amazing", "Stunning", *words, "L@@K"]
        if behaviour == "invent":
            words.insert(len(words) - 2, "Red" if facts.get("colour") != "Red" else "Blue")
        if behaviour == "nogarment":
            garment = {w.lower() for w in facts.get("garment_type", "").split()}
            words = [w for w in words if w.lower() not in garment]
        text = "" if behaviour == "empty" else f'"{" ".join(words)}"'
        return _answer(body["model"], text)


def _answer(model: str, text: str) -> dict[str, Any]:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
