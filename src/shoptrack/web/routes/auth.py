"""Signing in and out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from shoptrack.errors import AuthenticationError
from shoptrack.users import sign_in, sign_out, user_of_session
from shoptrack.web.routes._common import pages, redirect
from shoptrack.web.security import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGN_IN_CSRF_COOKIE,
    CsrfRejectedError,
    FormDep,
    VisitorDep,
    clear_session_cookie,
    keep_sign_in_csrf_token,
    read_form,
    safe_next,
    services_of,
    set_session_cookie,
    sign_in_csrf_token,
    tokens_match,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _sign_in_page(
    request: Request,
    *,
    email: str = "",
    message: str = "",
    error: str = "",
    next_path: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    token = sign_in_csrf_token(request)
    response = pages(request).render(
        request,
        "sign_in.html",
        {
            "email": email,
            "message": message,
            "error": error,
            "sign_in_csrf": token,
            "next": safe_next(next_path or request.query_params.get("next")),
        },
        status=status,
    )
    keep_sign_in_csrf_token(request, response, token)
    return response


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    if user_of_session(services_of(request), request.cookies.get(SESSION_COOKIE)) is not None:
        return redirect(safe_next(request.query_params.get("next")))
    message = "You are signed out." if request.query_params.get("signed_out") else ""
    return _sign_in_page(request, message=message)


@router.post("/sign-in")
async def sign_in_submit(request: Request) -> Response:
    form = await read_form(request)
    if not tokens_match(request.cookies.get(SIGN_IN_CSRF_COOKIE) or "", form.get(CSRF_FIELD)):
        raise CsrfRejectedError
    email = form.get("email")
    try:
        # argon2 takes tens of milliseconds on purpose: off the event loop.
        session = await run_in_threadpool(
            sign_in, services_of(request), email, form.get("password")
        )
    except AuthenticationError as error:
        return _sign_in_page(
            request,
            email=email.strip(),
            error=error.detail,
            next_path=form.get("next"),
            status=401,
        )
    response = redirect(safe_next(form.get("next")))
    set_session_cookie(request, response, session.token)
    return response


@router.post("/sign-out")
def sign_out_submit(request: Request, visitor: VisitorDep, _form: FormDep) -> Response:
    sign_out(services_of(request), visitor.session_token)
    response = redirect("/sign-in?signed_out=1")
    clear_session_cookie(response)
    return response
