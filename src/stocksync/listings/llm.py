"""An optional language model behind any OpenAI-compatible endpoint (OpenAI, llama.cpp's
server, vLLM, Ollama), through the official `openai` client. It only proposes: every
answer is checked by the rules (listings/drafting.py) before it can become a draft."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import openai

from stocksync.listings.attributes import ListingAttributes

# The seed's system prompt, word for word: the default template (each tenant may edit it).
SEED_PROMPT = ("You are an expert fashion copywriter. Generate an eBay listing title under "
               "80 characters. Structure: Brand + Gender + Material + Garment Type + Vital "
               "Attributes. Do not use fluff words. Target high-volume search terms.")
# Titles are short: a cap on the answer keeps a rambling model cheap and fast.
MAX_TITLE_TOKENS = 60
VISION_PROMPT = (
    "Describe the garment in this product photo. Answer with JSON only: an object with "
    "the keys material, pattern, garment_type, neckline, sleeve_length; each value an "
    "object {\"value\": string or null, \"confidence\": number from 0 to 1}.")
VISION_KEYS = ("material", "pattern", "garment_type", "neckline", "sleeve_length")


class ModelUnavailable(Exception):
    """The model gave no usable answer: time-out, rate limit, error, empty answer. The
    rules' title is used instead; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ModelSettings:
    base_url: str
    model: str
    api_key: str
    timeout_seconds: float
    vision_model: str | None = None


def user_message(attrs: ListingAttributes, channel_kind: str, limit: int) -> str:
    """The item as the model sees it: only the merchant's facts, and the channel's limit
    (the seed's prompt names eBay's 80; other channels have their own)."""
    facts = json.dumps(attrs.known(), ensure_ascii=False, sort_keys=True)
    return (f"Channel: {channel_kind}. Maximum title length: {limit} characters.\n"
            f"Item attributes (use only these facts): {facts}\n"
            "Answer with the title only, on one line.")


class ListingModel:
    """One client per process; thread-safe (the openai client wraps an httpx.Client)."""

    def __init__(self, settings: ModelSettings) -> None:
        self.settings = settings
        # No retries inside the client: a slow or refusing model falls back to the rules
        # at once instead of holding a catalog job up (time-outs, 429s, 5xx alike).
        self.client = openai.OpenAI(base_url=settings.base_url, api_key=settings.api_key,
                                    timeout=settings.timeout_seconds, max_retries=0)

    def close(self) -> None:
        self.client.close()

    def title(self, template: str, attrs: ListingAttributes, channel_kind: str,
              limit: int) -> str:
        """The model's title, first line, quotes stripped; ModelUnavailable otherwise."""
        answer = self._complete(self.settings.model, [
            {"role": "system", "content": template},
            {"role": "user", "content": user_message(attrs, channel_kind, limit)}],
            MAX_TITLE_TOKENS)
        line = next((ln.strip() for ln in answer.splitlines() if ln.strip()), "")
        line = line.strip().strip('"\'\u201c\u201d').strip()
        if line.lower().startswith("title:"):
            line = line[6:].strip()
        if not line:
            raise ModelUnavailable("the model answered nothing")
        return line

    def describe_image(self, image: bytes, content_type: str) -> dict[str, tuple[str, float]]:
        """Garment attributes a vision model sees: {key: (value, confidence)}."""
        if not self.settings.vision_model:
            raise ModelUnavailable("no vision model configured")
        data_url = f"data:{content_type};base64,{base64.b64encode(image).decode()}"
        answer = self._complete(self.settings.vision_model, [{"role": "user", "content": [
            {"type": "text", "text": VISION_PROMPT},
            {"type": "image_url", "image_url": {"url": data_url}}]}], 300)
        return parse_vision(answer)

    def _complete(self, model: str, messages: list[Any], max_tokens: int) -> str:
        try:
            response = self.client.chat.completions.create(
                model=model, messages=messages, max_tokens=max_tokens, temperature=0)
        except openai.APITimeoutError as exc:
            raise ModelUnavailable(f"timed out after {self.settings.timeout_seconds} s") \
                from exc
        except openai.RateLimitError as exc:
            raise ModelUnavailable("rate limited (429)") from exc
        except openai.APIStatusError as exc:
            raise ModelUnavailable(f"the model answered {exc.status_code}") from exc
        except openai.APIError as exc:  # connection refused, malformed answer
            raise ModelUnavailable(f"model error: {type(exc).__name__}") from exc
        choices = response.choices or []
        content = choices[0].message.content if choices and choices[0].message else None
        if not content:
            raise ModelUnavailable("the model answered nothing")
        return content


def parse_vision(answer: str) -> dict[str, tuple[str, float]]:
    """The JSON a vision model answered (a ```json fence tolerated); unknown keys, nulls
    and confidences outside 0..1 are left out."""
    text = answer.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelUnavailable("the vision model did not answer JSON") from exc
    if not isinstance(data, dict):
        raise ModelUnavailable("the vision model did not answer an object")
    found: dict[str, tuple[str, float]] = {}
    for key in VISION_KEYS:
        entry = data.get(key)
        if not isinstance(entry, dict):
            continue
        value, confidence = entry.get("value"), entry.get("confidence")
        if isinstance(value, str) and value.strip() and isinstance(confidence, int | float) \
                and 0 <= confidence <= 1:
            found[key] = (value.strip()[:200], float(confidence))
    return found
