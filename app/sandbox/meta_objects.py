"""Graph nodes: resolving ids to objects and rendering their fields (with field expansion)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.sandbox.clock import graph_time
from app.sandbox.curves import snapshot
from app.sandbox.entities import FACEBOOK, INSTAGRAM, Container, IgAccount, MetaUser, Page, Post
from app.sandbox.fields import FieldSpec
from app.sandbox.graph_errors import nonexisting_field, page_token_required, unknown_object
from app.sandbox.meta_auth import (
    Caller,
    GraphRequest,
    can_access_ig,
    can_access_page,
    require_scope,
)
from app.sandbox.meta_metrics import fb_post_insights, ig_media_insights, video_insights
from app.sandbox.meta_paging import (
    current_window,
    moved_window_rows,
    requested_window,
    time_paging,
)
from app.sandbox.state import SandboxState

_ABSENT = object()
_SHORTCODE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
NODE_TYPES = {
    "page": "Page",
    "user": "User",
    "fb_post": "PagePost",
    "fb_video": "Video",
    "fb_photo": "Photo",
    "ig_user": "IGUser",
    "ig_media": "IGMedia",
    "ig_container": "IGContainer",
}
DEFAULT_FIELDS = {
    "page": ("name", "id"),
    "user": ("name", "id"),
    "fb_post": ("created_time", "message", "id"),
    "fb_video": ("created_time", "description", "id"),
    "fb_photo": ("created_time", "name", "id"),
    "ig_user": ("id",),
    "ig_media": ("id",),
    "ig_container": ("id",),
}


@dataclass(slots=True)
class GraphNode:
    kind: str
    id: str
    obj: Any
    business: tuple[str, str] | None  # ("pages", page id) or ("instagram", IG user id)


def find_node(state: SandboxState, object_id: str) -> GraphNode | None:
    """The live object behind an id, regardless of who asks."""
    post = state.posts.get(object_id)
    if post is not None:
        if post.deleted:
            return None
        if post.platform == FACEBOOK:
            return GraphNode("fb_post", object_id, post, ("pages", post.owner_id))
        if post.platform == INSTAGRAM:
            return GraphNode("ig_media", object_id, post, ("instagram", post.owner_id))
        return None
    if object_id in state.fb_objects:
        post = state.posts[state.fb_objects[object_id]]
        if post.deleted:
            return None
        kind = "fb_video" if post.video_id == object_id else "fb_photo"
        return GraphNode(kind, object_id, post, ("pages", post.owner_id))
    if object_id in state.pages:
        return GraphNode("page", object_id, state.pages[object_id], ("pages", object_id))
    if object_id in state.ig_accounts:
        return GraphNode(
            "ig_user", object_id, state.ig_accounts[object_id], ("instagram", object_id)
        )
    if object_id in state.containers:
        container = state.containers[object_id]
        return GraphNode("ig_container", object_id, container, ("instagram", container.ig_user_id))
    if object_id in state.meta_users:
        return GraphNode("user", object_id, state.meta_users[object_id], None)
    return None


def resolve_node(
    state: SandboxState, object_id: str, caller: Caller, method: str = "get"
) -> GraphNode:
    """``find_node`` plus the access rule; unknown and forbidden look the same (100/33)."""
    if object_id == "me":
        token = caller.token
        object_id = token.subject_id
    node = find_node(state, object_id)
    if node is None or not can_see(state, caller, node):
        raise unknown_object(object_id, method)
    return node


def can_see(state: SandboxState, caller: Caller, node: GraphNode) -> bool:
    if node.kind == "user":
        return caller.token.user_id == node.id and caller.is_user
    if node.business is None:
        return False
    kind, owner = node.business
    if kind == "pages":
        return can_access_page(state, caller, owner)
    return can_access_ig(state, caller, owner)


def shortcode(post: Post) -> str:
    n = post.seed
    return "".join(_SHORTCODE[(n >> (6 * i)) & 63] for i in range(11))


def _metric_args(spec: FieldSpec) -> tuple[list[str] | None, str | None]:
    """``insights.metric(a,b).period(p)`` -> (metric names or None for all, period or None)."""
    metrics = spec.modifier("metric")
    period = spec.modifier("period")
    return (list(metrics) if metrics else None, period[0] if period else None)


class _Renderer:
    """Renders one node; the metrics snapshot is computed at most once.

    The insights fields carry the insights rules (token kind, scopes); the ``/{id}/insights``
    and ``/{id}/video_insights`` routes are answered through them too. ``req`` (the request
    being answered) is what time-paging links are built from.
    """

    __slots__ = ("_snap", "caller", "node", "now", "req", "state")

    def __init__(
        self,
        state: SandboxState,
        node: GraphNode,
        caller: Caller,
        now: float,
        req: GraphRequest | None,
    ) -> None:
        self.state = state
        self.node = node
        self.caller = caller
        self.now = now
        self.req = req
        self._snap: dict[str, Any] | None = None

    def snap(self) -> dict[str, Any]:
        if self._snap is None:
            self._snap = snapshot(self.node.obj, self.now)
        return self._snap

    def render(self, specs: tuple[FieldSpec, ...] | None) -> dict[str, Any]:
        kind = self.node.kind
        if not specs:
            specs = tuple(FieldSpec(name) for name in DEFAULT_FIELDS[kind])
        method = getattr(self, f"_{kind}")
        out: dict[str, Any] = {}
        for spec in specs:
            value = method(spec)
            if value is not _ABSENT:
                out[spec.alias] = value
        out.setdefault("id", self.node.id)
        return out

    def _unknown(self, spec: FieldSpec) -> Any:
        raise nonexisting_field(spec.name, NODE_TYPES[self.node.kind])

    def _insights(
        self, spec: FieldSpec, rows: list[dict[str, Any]], *, time_paged: bool = False
    ) -> dict[str, Any]:
        """An insights answer. Page-post insights are time-paged as real replies are (see
        ``meta_paging``); captured ``video_insights`` and documented/captured Instagram media
        insights replies carry no ``paging``."""
        if not time_paged:
            return {"data": rows}
        window = requested_window(spec)
        out: dict[str, Any] = {"data": rows if window is None else moved_window_rows(rows)}
        if self.state.settings.meta_time_paging and self.req is not None:
            metrics, period = _metric_args(spec)
            names = metrics or [str(row["name"]) for row in rows]
            out["paging"] = time_paging(
                self.req, self.caller.token.value, self.node.id, spec.name, names, period,
                window or current_window(self.now),
            )  # fmt: skip
        return out

    # -- Facebook ------------------------------------------------------------------------

    def _edge_summary(self, spec: FieldSpec, total: int, summary: dict[str, Any]) -> Any:
        """``reactions.limit(0).summary(true)`` style connection with a total count."""
        out: dict[str, Any] = {"data": []}
        wanted = spec.modifier("summary")
        if wanted and wanted[0] in ("true", "1", "total_count"):
            out["summary"] = {"total_count": total, **summary}
        return out

    def _reactions(self, spec: FieldSpec) -> Any:
        require_scope(self.caller, "pages_read_engagement")
        by_type = self.snap()["reactions_by_type"]
        kind = spec.modifier("type")
        if kind and kind[0].upper() != "NONE":
            total = by_type.get(kind[0].lower(), 0)
        else:
            total = sum(by_type.values())
        return self._edge_summary(spec, total, {"viewer_reaction": "NONE"})

    def _comments(self, spec: FieldSpec) -> Any:
        require_scope(self.caller, "pages_read_engagement")
        total = self.snap()["comments"]
        return self._edge_summary(spec, total, {"order": "ranked", "can_comment": True})

    def _fb_post(self, spec: FieldSpec) -> Any:
        post: Post = self.node.obj
        name = spec.name
        if name == "id":
            return post.id
        if name == "message":
            return post.message if post.message else _ABSENT
        if name in ("created_time", "updated_time"):
            return graph_time(post.created_at)
        if name == "permalink_url":
            page_id, _, suffix = post.id.partition("_")
            return f"https://www.facebook.com/{page_id}/posts/{suffix}"
        if name == "is_published":
            return True
        if name == "status_type":
            return {
                "photo": "added_photos",
                "video": "added_video",
                "reel": "added_video",
                "link": "shared_story",
            }.get(post.media_type, "mobile_status_update")
        if name == "from":
            page = self.state.pages[post.owner_id]
            return {"name": page.name, "id": page.id}
        if name == "object_id":
            return post.video_id if post.video_id else _ABSENT
        if name == "reactions":
            return self._reactions(spec)
        if name == "comments":
            return self._comments(spec)
        if name == "shares":
            require_scope(self.caller, "pages_read_engagement")
            count = self.snap()["shares"]
            return {"count": count} if count else _ABSENT
        if name == "insights":
            # Page-post insights need a page token (Graph answers a user token with 190).
            if not self.caller.is_page:
                raise page_token_required()
            require_scope(self.caller, "read_insights")
            metrics, period = _metric_args(spec)
            rows = fb_post_insights(post, metrics, period, self.now)
            return self._insights(spec, rows, time_paged=True)
        return self._unknown(spec)

    def _fb_video(self, spec: FieldSpec) -> Any:
        post: Post = self.node.obj
        name = spec.name
        if name == "id":
            return self.node.id
        if name == "description":
            return post.message if post.message else _ABSENT
        if name in ("created_time", "updated_time"):
            return graph_time(post.created_at)
        if name == "permalink_url":
            return f"/{post.owner_id}/videos/{self.node.id}/"
        if name == "length":
            return round(10.0 + (post.seed % 5000) / 100.0, 2)
        if name == "post_id":
            return post.id
        if name == "from":
            page = self.state.pages[post.owner_id]
            return {"name": page.name, "id": page.id}
        if name in ("reactions", "comments"):
            return self._reactions(spec) if name == "reactions" else self._comments(spec)
        if name == "video_insights":
            require_scope(self.caller, "read_insights")
            metrics, period = _metric_args(spec)
            return self._insights(spec, video_insights(post, metrics, period, self.now))
        return self._unknown(spec)

    def _fb_photo(self, spec: FieldSpec) -> Any:
        post: Post = self.node.obj
        name = spec.name
        if name == "id":
            return self.node.id
        if name == "name":
            return post.message if post.message else _ABSENT
        if name in ("created_time", "updated_time"):
            return graph_time(post.created_at)
        if name == "link":
            return f"https://www.facebook.com/photo/?fbid={self.node.id}"
        if name == "page_story_id":
            return post.id
        return self._unknown(spec)

    def _page(self, spec: FieldSpec) -> Any:
        page: Page = self.node.obj
        name = spec.name
        if name == "id":
            return page.id
        if name == "name":
            return page.name
        if name == "category":
            return page.category
        if name == "category_list":
            return [{"id": "2211", "name": page.category}]
        if name == "tasks":
            return ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"]
        if name in ("fan_count", "followers_count"):
            return page.fan_count
        if name == "link":
            return f"https://www.facebook.com/{page.id}"
        if name == "instagram_business_account":
            if page.ig_user_id is None:
                return _ABSENT
            node = GraphNode(
                "ig_user", page.ig_user_id, self.state.ig_accounts[page.ig_user_id], None
            )
            specs = spec.children or (FieldSpec("id"),)
            return _Renderer(self.state, node, self.caller, self.now, self.req).render(specs)
        if name == "access_token":
            if not self.caller.is_user or self.caller.user_id is None:
                return _ABSENT
            token = self.state.page_token(
                self.caller.app.id, self.caller.user_id, page.id, self.caller.token.scopes
            )
            return token.value
        return self._unknown(spec)

    def _user(self, spec: FieldSpec) -> Any:
        user: MetaUser = self.node.obj
        if spec.name == "id":
            return user.id
        if spec.name == "name":
            return user.name
        return self._unknown(spec)

    # -- Instagram -----------------------------------------------------------------------

    def _ig_user(self, spec: FieldSpec) -> Any:
        account: IgAccount = self.node.obj
        name = spec.name
        if name == "id":
            return account.id
        if name == "username":
            return account.username
        if name == "name":
            return account.name
        if name == "followers_count":
            return account.followers_count
        if name == "media_count":
            posts = self.state.posts_by_owner.get(account.id, ())
            return sum(1 for pid in posts if not self.state.posts[pid].deleted)
        if name == "profile_picture_url":
            return f"https://scontent.cdninstagram.com/sandbox/{account.id}.jpg"
        if name == "biography":
            return "Sandbox account"
        return self._unknown(spec)

    def _ig_media(self, spec: FieldSpec) -> Any:
        post: Post = self.node.obj
        name = spec.name
        if name == "id":
            return post.id
        if name == "media_type":
            return post.media_type
        if name == "media_product_type":
            return post.product_type
        if name == "caption":
            return post.message if post.message else _ABSENT
        if name == "timestamp":
            return graph_time(post.created_at)
        if name == "permalink":
            part = "reel" if post.product_type == "REELS" else "p"
            return f"https://www.instagram.com/{part}/{shortcode(post)}/"
        if name == "shortcode":
            return shortcode(post)
        if name in ("media_url", "thumbnail_url"):
            if name == "thumbnail_url" and not post.is_video:
                return _ABSENT
            ext = "mp4" if post.is_video and name == "media_url" else "jpg"
            return f"https://scontent.cdninstagram.com/sandbox/{post.id}.{ext}"
        if name == "like_count":
            return self.snap()["reactions"]
        if name == "comments_count":
            return self.snap()["comments"]
        if name == "username":
            return self.state.ig_accounts[post.owner_id].username
        if name == "owner":
            return {"id": post.owner_id}
        if name == "is_comment_enabled":
            return True
        if name == "children":
            if post.media_type != "CAROUSEL_ALBUM":
                return _ABSENT
            return {"data": [{"id": child} for child in post.children]}
        if name == "insights":
            require_scope(self.caller, "instagram_manage_insights")
            metrics, _ = _metric_args(spec)
            return self._insights(spec, ig_media_insights(post, metrics, self.now))
        return self._unknown(spec)

    def _ig_container(self, spec: FieldSpec) -> Any:
        container: Container = self.node.obj
        status = container_status(self.state, container, self.now)
        if spec.name == "id":
            return container.id
        if spec.name == "status_code":
            return status
        if spec.name == "status":
            if status == "ERROR":  # the subcode inside the text, as reported (research §2.2)
                return f"Error: Media upload has failed with error code {container.error_subcode}"
            return {
                "IN_PROGRESS": "In Progress: Media is still being processed.",
                "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
                "PUBLISHED": "Published: Media has been published.",
                "EXPIRED": "Expired: The container was not published within 24 hours.",
            }.get(status, status)
        return self._unknown(spec)


def container_status(state: SandboxState, container: Container, now: float) -> str:
    """IN_PROGRESS until processed, then FINISHED (or ERROR when processing fails); EXPIRED
    24 h after creation unless published."""
    if container.status_code in ("PUBLISHED", "ERROR"):
        return container.status_code
    if now < container.ready_at:
        return "IN_PROGRESS"
    if container.error_subcode is not None:
        return "ERROR"
    if now - container.created_at >= state.settings.ig_container_ttl_seconds:
        return "EXPIRED"
    return "FINISHED"


def render_node(
    state: SandboxState,
    node: GraphNode,
    caller: Caller,
    specs: tuple[FieldSpec, ...] | None,
    now: float,
    req: GraphRequest | None = None,
) -> dict[str, Any]:
    """The node's ``specs`` fields; ``req`` is the request answered (for paging links)."""
    return _Renderer(state, node, caller, now, req).render(specs)
