"""AI listings, the application: drafts for SKUs or the whole catalog (a resumable job),
the review (edit, approve, reject) and publishing approved titles and aspects as the
item's channel content through content sync."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from stocksync import metrics
from stocksync.app.content_overrides import set_channel_content
from stocksync.core.catalog import Item
from stocksync.core.channels import RECEIVE_ONLY
from stocksync.core.errors import DomainError, InvalidInput, NotFound, UnknownSku
from stocksync.listings import store
from stocksync.listings.attributes import ListingAttributes, WordRules, from_item
from stocksync.listings.checks import check_title, components_in
from stocksync.listings.drafting import Draft, draft
from stocksync.listings.llm import ListingModel, ModelSettings
from stocksync.listings.vocabulary import title_limit

if TYPE_CHECKING:
    from stocksync.app.service import Stocksync

JOB_BATCH = 200  # items per transaction of a catalog job (drafts + cursor together)
MAX_SKUS = 500  # a synchronous request; more is a catalog job
# A job touched this recently is taken to be still running (no second runner starts).
RUNNING_WITHIN = timedelta(seconds=60)
Target = tuple[str, str]  # (channel code, channel kind)


def attributes_of(item: Item) -> ListingAttributes:
    return from_item(item.sku, brand=item.brand, gender=item.gender,
                     material=item.material, garment_type=item.garment_type,
                     size=item.size, colour=item.colour, attributes=item.attributes)


def model_for(svc: Stocksync) -> ListingModel | None:
    """The configured model (one per service), or None: the rules write every title."""
    cfg = svc.settings
    if not cfg.listing_llm_model:
        return None
    cached: ListingModel | None = getattr(svc, "_listing_model", None)
    if cached is None:
        cached = ListingModel(ModelSettings(
            base_url=cfg.listing_llm_base_url or "https://api.openai.com/v1",
            model=cfg.listing_llm_model, api_key=cfg.listing_llm_api_key or "unused",
            timeout_seconds=cfg.listing_llm_timeout_seconds,
            vision_model=cfg.listing_vision_model))
        svc._listing_model = cached  # type: ignore[attr-defined]
    return cached


def targets(svc: Stocksync, tenant_id: str, channels: Sequence[str] | None) -> list[Target]:
    """The channels drafts are written for: those named, or every channel that lists."""
    with svc.uow(tenant_id, write=False) as uow:
        known = {c.code: c.kind.value for c in uow.channels.list()
                 if c.kind not in RECEIVE_ONLY}
    if channels:
        missing = [c for c in channels if c not in known]
        if missing:
            raise NotFound(f"no channel {missing[0]} that takes listings",
                           channel=missing[0])
        return [(c, known[c]) for c in dict.fromkeys(channels)]
    if not known:
        raise InvalidInput("the tenant has no channel to write listings for: create one "
                           "first (POST /v1/channels)", field="channels")
    return sorted(known.items())


def _drafts_for(items: Sequence[Item], where: Sequence[Target], rules: WordRules,
                template: str, model: ListingModel | None, concurrency: int) -> list[Draft]:
    work = [(attributes_of(i), code, kind) for i in items for code, kind in where]

    def one(job: tuple[ListingAttributes, str, str]) -> Draft:
        attrs, code, kind = job
        return draft(attrs, code, kind, title_limit(kind), rules, model=model,
                     template=template)

    if model is None or concurrency <= 1:
        return [one(w) for w in work]
    with ThreadPoolExecutor(concurrency, thread_name_prefix="listing-model") as pool:
        return list(pool.map(one, work))


def _count(tenant_id: str, drafts: Sequence[Draft]) -> None:
    for d in drafts:
        metrics.LISTING_DRAFTS.labels(tenant_id, d.channel, d.outcome.value).inc()


def generate(svc: Stocksync, tenant_id: str, skus: Sequence[str],
             channels: Sequence[str] | None = None, *, use_model: bool = True,
             replace_approved: bool = False) -> list[dict[str, Any]]:
    """Drafts for these SKUs on each channel, stored and returned."""
    if not skus or len(skus) > MAX_SKUS:
        raise InvalidInput(f"give 1 to {MAX_SKUS} SKUs (the whole catalog is a job: "
                           "{\"all\": true})", field="skus")
    where = targets(svc, tenant_id, channels)
    with svc.uow(tenant_id, write=False) as uow:
        found = {i.sku: i for i in uow.catalog.items_by_sku(list(dict.fromkeys(skus)))}
    for sku in skus:
        if sku not in found or found[sku].is_deleted:
            raise UnknownSku(f"no item with SKU {sku}", sku=sku)
    with svc.engine.connect() as conn:
        rules, template = store.rules_and_template(conn, tenant_id)
    model = model_for(svc) if use_model else None
    drafts = _drafts_for([found[s] for s in dict.fromkeys(skus)], where, rules, template,
                         model, svc.settings.listing_llm_concurrency)
    with store.writing(svc.engine) as conn:
        ids = store.store_drafts(conn, tenant_id, drafts, None, svc.clock(),
                                 replace_approved=replace_approved)
    _count(tenant_id, drafts)
    with svc.engine.connect() as conn:
        return store.list_drafts(conn, tenant_id, ids=ids, limit=len(ids) or 1)


# ---- the whole catalog ---------------------------------------------------------------

def start_job(svc: Stocksync, tenant_id: str, channels: Sequence[str] | None,
              use_model: bool, *, take_over: bool = False) -> tuple[dict[str, Any], bool]:
    """The job to run: an unfinished one of the same channels (resumed) or a new one.
    Returns the job and whether it should be run now (False: a runner touched it within
    RUNNING_WITHIN; `take_over` runs it anyway, as the CLI does after a kill: two runners
    at once would only write the same drafts twice)."""
    codes = [code for code, _ in targets(svc, tenant_id, channels)]
    use_model = use_model and model_for(svc) is not None
    now = svc.clock()
    with store.writing(svc.engine) as conn:
        job = store.unfinished_job(conn, tenant_id, codes, use_model)
        if job is not None:
            busy = not take_over and job["status"] == "running" \
                and now - job["updated_at"] < RUNNING_WITHIN
            if not busy:
                store.update_job(conn, job["id"], status="running", updated_at=now,
                                 error=None)
            return {**job, "status": "running", "resumed": True}, not busy
        total = _catalog_size(svc, tenant_id)
        job_id = store.create_job(conn, tenant_id, codes, use_model, total, now)
        created = store.get_job(conn, tenant_id, job_id)
    assert created is not None
    return {**created, "resumed": False}, True


def _catalog_size(svc: Stocksync, tenant_id: str) -> int:
    from sqlalchemy import func, select

    from stocksync.storage.tables import items
    with svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(items).where(
            items.c.tenant_id == tenant_id, items.c.deleted_at.is_(None))).scalar_one())


def run_job(svc: Stocksync, tenant_id: str, job_id: str,
            progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Draft every live item after the job's cursor, JOB_BATCH per transaction; the
    cursor moves with the drafts it covers, so a kill loses at most the batch in hand."""
    with svc.engine.connect() as conn:
        job = store.get_job(conn, tenant_id, job_id)
        if job is None:
            raise NotFound(f"no listing job {job_id}", job_id=job_id)
        rules, template = store.rules_and_template(conn, tenant_id)
    where = targets(svc, tenant_id, job["channels"])
    model = model_for(svc) if job["use_model"] else None
    cursor, done = job["cursor"], job["items_done"]
    outcomes = Counter(job["outcomes"])
    try:
        while True:
            with svc.uow(tenant_id, write=False) as uow:
                batch = uow.catalog.items(after=cursor, limit=JOB_BATCH)
            if not batch:
                break
            drafts = _drafts_for(batch, where, rules, template, model,
                                 svc.settings.listing_llm_concurrency)
            outcomes.update(d.outcome.value for d in drafts)
            cursor, done = batch[-1].sku, done + len(batch)
            with store.writing(svc.engine) as conn:
                store.store_drafts(conn, tenant_id, drafts, job_id, svc.clock())
                store.update_job(conn, job_id, cursor=cursor, items_done=done,
                                 outcomes=dict(outcomes), updated_at=svc.clock())
            _count(tenant_id, drafts)
            if progress:
                progress(done, max(job["items_total"], done))
    except Exception as exc:  # the outer loop of background work: recorded on the job
        with store.writing(svc.engine) as conn:
            store.update_job(conn, job_id, status="failed", error=str(exc)[:2000],
                             updated_at=svc.clock())
        raise
    with store.writing(svc.engine) as conn:
        now = svc.clock()
        store.update_job(conn, job_id, status="done", items_total=max(done, 0),
                         updated_at=now, finished_at=now)
        finished = store.get_job(conn, tenant_id, job_id)
    assert finished is not None
    return finished


# ---- review and publish ----------------------------------------------------------------

def draft_row(svc: Stocksync, tenant_id: str, draft_id: str) -> dict[str, Any]:
    with svc.engine.connect() as conn:
        found = store.get_draft(conn, tenant_id, draft_id)
    if found is None:
        raise NotFound(f"no listing draft {draft_id}", draft_id=draft_id)
    return found


def _checked_title(svc: Stocksync, tenant_id: str, row: dict[str, Any],
                   title: str) -> tuple[str, dict[str, str], list[str]]:
    """A merchant's title: refused when empty or over the channel's limit; other rule
    problems (a banned word, a missing component) become warnings, the merchant decides."""
    title = " ".join(title.split())
    if not title:
        raise InvalidInput("the title is empty", field="title")
    if len(title) > row["title_limit"]:
        raise InvalidInput(f"the title has {len(title)} characters; {row['channel']} takes "
                           f"{row['title_limit']}", field="title", length=len(title),
                           limit=row["title_limit"])
    with svc.uow(tenant_id, write=False) as uow:
        item = uow.catalog.item(row["sku"])
    if item is None:
        raise UnknownSku(f"no item with SKU {row['sku']}", sku=row["sku"])
    with svc.engine.connect() as conn:
        rules, _ = store.rules_and_template(conn, tenant_id)
    attrs = attributes_of(item)
    problems = check_title(title, attrs, row["title_limit"], rules)
    return title, components_in(title, attrs, rules), [p.message for p in problems]


def edit(svc: Stocksync, tenant_id: str, draft_id: str, title: str,
         actor: str) -> dict[str, Any]:
    row = draft_row(svc, tenant_id, draft_id)
    title, components, warnings = _checked_title(svc, tenant_id, row, title)
    with store.writing(svc.engine) as conn:
        store.decide(conn, draft_id, svc.clock(), title=title, components=components,
                     warnings=warnings, edited=1, decided_by=actor,
                     status="pending" if row["status"] != "approved" else "approved")
    if row["status"] == "approved":
        _publish(svc, tenant_id, draft_id)
    return draft_row(svc, tenant_id, draft_id)


def approve(svc: Stocksync, tenant_id: str, draft_id: str, actor: str,
            title: str | None = None) -> dict[str, Any]:
    """Approve (optionally with an edited title); the title, and on eBay the aspects,
    become the item's content on that channel."""
    row = draft_row(svc, tenant_id, draft_id)
    values: dict[str, Any] = {"status": "approved", "decided_by": actor}
    if title is not None and " ".join(title.split()) != row["title"]:
        checked, components, warnings = _checked_title(svc, tenant_id, row, title)
        values.update(title=checked, components=components, warnings=warnings, edited=1)
    with store.writing(svc.engine) as conn:
        store.decide(conn, draft_id, svc.clock(), **values)
    _publish(svc, tenant_id, draft_id)
    return draft_row(svc, tenant_id, draft_id)


def reject(svc: Stocksync, tenant_id: str, draft_id: str, actor: str) -> dict[str, Any]:
    """Reject; a draft that was published gives the channel the item's own title back."""
    row = draft_row(svc, tenant_id, draft_id)
    with store.writing(svc.engine) as conn:
        store.decide(conn, draft_id, svc.clock(), status="rejected", decided_by=actor)
    if row["publish_state"] == "published":
        fields: dict[str, Any] = {"title": None}
        if row["channel_kind"] == "ebay":
            fields["aspects"] = None
        _send(svc, tenant_id, row, fields, "withdrawn")
    return draft_row(svc, tenant_id, draft_id)


def _publish(svc: Stocksync, tenant_id: str, draft_id: str) -> None:
    row = draft_row(svc, tenant_id, draft_id)
    fields: dict[str, Any] = {"title": row["title"]}
    if row["channel_kind"] == "ebay":  # item specifics exist on eBay only
        fields["aspects"] = row["aspects"]
    _send(svc, tenant_id, row, fields, "published")


def _send(svc: Stocksync, tenant_id: str, row: dict[str, Any], fields: dict[str, Any],
          state: str) -> None:
    error = None
    try:
        set_channel_content(svc, tenant_id, row["sku"], row["channel"], fields,
                            source=f"ai:draft-{row['id']}")
    except DomainError as exc:  # the channel or item went away since the draft
        state, error = "failed", exc.message
    with store.writing(svc.engine) as conn:
        store.mark_published(conn, row["id"], state, error)
