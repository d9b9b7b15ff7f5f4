"""Account API schemas. Tokens go in, never come out."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from app.integrations.platforms import platform_for
from app.models.enums import AccountStatus, Provider
from app.schemas.common import AwareDatetime, InputModel


def check_account_external_id(provider: Provider, external_id: str) -> None:
    """`ValueError` unless `external_id` has the shape of an account id on `provider`."""
    platform_for(provider).account_id.check(provider, external_id)


class AccountCreate(InputModel):
    provider: Provider
    external_id: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    access_token: SecretStr = Field(min_length=1, max_length=8192)
    refresh_token: SecretStr | None = Field(default=None, min_length=1, max_length=8192)
    token_expires_at: AwareDatetime | None = None
    refresh_token_expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _check_external_id(self) -> AccountCreate:
        check_account_external_id(self.provider, self.external_id)
        return self


class AccountUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    access_token: SecretStr | None = Field(default=None, min_length=1, max_length=8192)
    refresh_token: SecretStr | None = Field(default=None, min_length=1, max_length=8192)
    token_expires_at: AwareDatetime | None = None
    status: AccountStatus | None = Field(
        default=None, description="Only `active` or `disabled` can be set by hand."
    )

    @model_validator(mode="after")
    def _check_status(self) -> AccountUpdate:
        if self.status not in (None, AccountStatus.ACTIVE, AccountStatus.DISABLED):
            raise ValueError("status can only be set to active or disabled")
        return self


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider: Provider
    external_id: str
    name: str
    status: AccountStatus
    token_expires_at: datetime | None
    has_refresh_token: bool
    last_error: str | None
    created_at: datetime
    updated_at: datetime
