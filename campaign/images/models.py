"""Images staff upload for newsletters, kept in the database and served to readers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.database import utcnow
from campaign.extensions import db


class Image(db.Model):
    """One stored image: the bytes as re-encoded on upload, never the file as sent.

    Rows live in the database, so a backup holds them and every web process serves
    them without a shared folder. They are never changed: the name carries the
    content's digest and the size, so an email sent years ago still finds its picture.
    Only an image no newsletter shows can be deleted (``services.delete_image``).
    """

    __tablename__ = "image"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    # "<24 hex digits of the SHA-256>-<width>x<height>.<jpg|png>", the public path's end.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    byte_size: Mapped[int]
    # Deferred: lists of images never need the bytes, only the one image served does.
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    original_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))

    created_by = relationship("Staff")
