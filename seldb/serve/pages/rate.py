"""Rating mode: /rate/<study> asks a study's blinded AM images one at a time, the paper's two questions.

A rater gives a name once (kept in a cookie for /rate), then sees item after
item in the sheet's order: "Can you identify multiple examples of an
everyday object, place or animal?" and, if yes, which. Each answer is
stored at once (seldb.ratings.studies.record_rating) in the table `seldb import
ratings` fills, so a rater can stop at any time; coming back with the same
name resumes at the first item without an answer, and an earlier item can
be opened again and its answer changed. The pages show item numbers and
re-encoded images only: no unit, layer, class or file name.

These forms are the app's only writes. Each carries a CSRF token; a missing
or wrong token, a malformed answer or an item outside the study is refused
and nothing is written.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from seldb.errors import InputError, NotFound
from seldb.ratings.page import LABEL_HINT, QUESTION_LABEL, QUESTION_OBJECT
from seldb.ratings.studies import answers, check_name, check_rater, find_study, record_rating, study_items
from seldb.serve.images import blinded_png
from seldb.serve.reading import reading
from seldb.serve.render import context, render
from seldb.serve.security import CSRF_FIELD, Forbidden

RATER_COOKIE = "seldb_rater"
MAX_FORM_BYTES = 16_384


def _rater(request: Request) -> str | None:
    raw = request.cookies.get(RATER_COOKIE)
    if not raw:
        return None
    try:
        return check_rater(unquote(raw))
    except InputError:
        return None


def _study_name(request: Request) -> str:
    try:
        return check_name(request.path_params["study"])
    except InputError:
        raise NotFound(f"no rating study {request.path_params['study']!r}") from None


def _state(db, name: str, rater: str | None):
    with reading(db) as conn:
        study = find_study(conn, name)
        items = study_items(conn, name)
        given = answers(conn, name, rater) if rater else {}
    return study, items, given


def studies_page(request: Request):
    with reading(context(request).db) as conn:
        studies = [
            dict(r._mapping)
            for r in conn.exec_driver_sql(
                "SELECT study, n_items, n_raters, n_ratings, created_at FROM seldb.rating_studies ORDER BY created_at"
            )
        ]
    return render(request, "rate_index.html", studies=studies)


def study_page(request: Request):
    name, rater = _study_name(request), _rater(request)
    study, items, given = _state(context(request).db, name, rater)
    if rater is None:
        return render(request, "rate_start.html", study=study, error=None)
    open_items = [i for i in items if i.item not in given]
    if open_items:
        return RedirectResponse(_item_url(name, open_items[0].item), status_code=303)
    return render(request, "rate_done.html", study=study, rater=rater, items=items, given=given)


async def _form(request: Request) -> dict:
    """The posted form (small, urlencoded), after its CSRF token is checked."""
    length = request.headers.get("content-length")
    if length and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise InputError("the form is too large")
    form = await request.form(max_files=0, max_fields=10)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not context(request).csrf.valid(request.state.session, values.get(CSRF_FIELD)):
        raise Forbidden("the form's security token is missing or out of date: reload the page and answer again")
    return values


async def start(request: Request):
    name = _study_name(request)
    values = await _form(request)
    study, _, _ = await run_in_threadpool(_state, context(request).db, name, None)
    try:
        rater = check_rater(values.get("rater", ""))
    except InputError as exc:
        return render(request, "rate_start.html", 400, study=study, error=str(exc))
    response = RedirectResponse(f"/rate/{quote(name)}", status_code=303)
    response.set_cookie(RATER_COOKIE, quote(rater, safe=""), path="/rate", httponly=True, samesite="strict")
    return response


async def stop(request: Request):
    name = _study_name(request)
    await _form(request)
    response = render(request, "rate_stopped.html", name=name)
    response.delete_cookie(RATER_COOKIE, path="/rate")
    return response


def _item_url(name: str, item: str) -> str:
    return f"/rate/{quote(name)}/item/{quote(item, safe='')}"


def _find_item(items, item: str):
    for position, entry in enumerate(items):
        if entry.item == item:
            return position, entry
    return None, None


def item_page(request: Request, error: str | None = None, status: int = 200, posted: dict | None = None):
    name, rater = _study_name(request), _rater(request)
    if rater is None:
        return RedirectResponse(f"/rate/{quote(name)}", status_code=303)
    study, items, given = _state(context(request).db, name, rater)
    position, item = _find_item(items, request.path_params["item"])
    if item is None:
        raise NotFound(f"item {request.path_params['item']!r} is not in study {name!r}")
    previous = items[position - 1].item if position > 0 else None
    answer = posted or given.get(item.item) or {}
    return render(
        request,
        "rate_item.html",
        status,
        study=study,
        rater=rater,
        item=item,
        position=position + 1,
        n_items=len(items),
        n_answered=len(given),
        previous=previous,
        answer=answer,
        error=error,
        question_object=QUESTION_OBJECT,
        question_label=QUESTION_LABEL,
        label_hint=LABEL_HINT,
    )


async def answer(request: Request):
    name, rater = _study_name(request), _rater(request)
    values = await _form(request)
    if rater is None:
        return RedirectResponse(f"/rate/{quote(name)}", status_code=303)
    judged = values.get("judged_object", "")
    if judged not in ("yes", "no"):
        posted = {"label": values.get("label", "")}
        return await run_in_threadpool(item_page, request, "Answer the first question: yes or no.", 400, posted)
    item = request.path_params["item"]
    await run_in_threadpool(record_rating, context(request).db, name, item, rater, judged == "yes", values.get("label"))
    return RedirectResponse(f"/rate/{quote(name)}", status_code=303)


def image(request: Request):
    name = _study_name(request)
    with reading(context(request).db) as conn:
        _, item = _find_item(study_items(conn, name), request.path_params["item"])
    n = request.path_params["n"]
    if item is None or not 1 <= n <= len(item.images):
        raise NotFound("no such image in this study")
    data = context(request).images.get(
        ("rate", item.sha256[n - 1]), lambda: blinded_png(item.images[n - 1], item.sha256[n - 1])
    )
    if data is None:
        raise NotFound("this image is gone or changed since the study was made; tell the experimenter")
    return Response(data, media_type="image/png", headers={"cache-control": "no-store"})


ROUTES = [
    Route("/rate", studies_page),
    Route("/rate/{study}", study_page),
    Route("/rate/{study}/start", start, methods=["POST"]),
    Route("/rate/{study}/stop", stop, methods=["POST"]),
    Route("/rate/{study}/item/{item}", item_page),
    Route("/rate/{study}/item/{item}", answer, methods=["POST"]),
    Route("/rate/{study}/image/{item}/{n:int}", image),
]
