"""Account API schemas. Tokens go in, never come out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)
from pydantic.config import JsonDict

from app.integrations.platforms import PLATFORMS, platform_for
from app.models.enums import AccountStatus, Provider
from app.schemas.common import NOT_BLANK_PATTERN, AwareDatetime, InputModel

# A platform id is taken as written (no stripping): the pattern the schema states is the rule.
ExternalId = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=255)]


# Secrets are stripped too before their minimum length applies; the schema says so.
_NOT_BLANK: JsonDict = {"pattern": NOT_BLANK_PATTERN}


def check_account_external_id(provider: Provider, external_id: str) -> None:
    """`ValueError` unless `external_id` has the shape of an account id on `provider`."""
    platform_for(provider).account_id.check(provider, external_id)


def _account_id_rules(schema: dict[str, Any]) -> None:
    """State each platform's account id rule (its home's `account_id` pattern, the one
    `check_account_external_id` applies) in the schema: if `provider` is P, then `external_id`
    matches P's pattern."""
    schema["allOf"] = [
        {
            "if": {"properties": {"provider": {"const": provider.value}}},
            "then": {"properties": {"external_id": {"pattern": home.account_id.pattern.pattern}}},
        }
        for provider, home in PLATFORMS.items()
    ]


class AccountCreate(InputModel):
    model_config = ConfigDict(json_schema_extra=_account_id_rules)

    provider: Provider
    external_id: ExternalId = Field(
        description="The account's id on its platform: a Facebook Page id or Instagram user id "
        "(digits), a LinkedIn organization or person URN."
    )
    name: str = Field(min_length=1, max_length=255, pattern=NOT_BLANK_PATTERN)
    access_token: SecretStr = Field(min_length=1, max_length=8192, json_schema_extra=_NOT_BLANK)
    refresh_token: SecretStr | None = Field(
        default=None, min_length=1, max_length=8192, json_schema_extra=_NOT_BLANK
    )
    token_expires_at: AwareDatetime | None = None
    refresh_token_expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _check_external_id(self) -> AccountCreate:
        check_account_external_id(self.provider, self.external_id)
        return self


class AccountUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=255, pattern=NOT_BLANK_PATTERN)
    access_token: SecretStr | None = Field(
        default=None, min_length=1, max_length=8192, json_schema_extra=_NOT_BLANK
    )
    refresh_token: SecretStr | None = Field(
        default=None, min_length=1, max_length=8192, json_schema_extra=_NOT_BLANK
    )
    token_expires_at: AwareDatetime | None = None
    # Only these can be set by hand (the others are the poller's to set); the schema says so.
    status: Literal[AccountStatus.ACTIVE, AccountStatus.DISABLED] | None = Field(
        default=None, description="Only `active` or `disabled` can be set by hand."
    )


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
