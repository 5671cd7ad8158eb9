"""FastAPI dependencies shared by the cloud's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from .context import CloudContext


def get_context(request: Request) -> CloudContext:
    context: CloudContext = request.app.state.cloud
    return context


Context = Annotated[CloudContext, Depends(get_context)]


async def get_session(context: Context) -> AsyncIterator[AsyncSession]:
    """One session per request, committed when the handler returns without raising."""
    async with context.sessions() as session, session.begin():
        yield session


# committed before the response is sent (FastAPI runs a yield dependency's exit after it unless
# scoped to the function): a client's next request must see what this one answered 201 for
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
