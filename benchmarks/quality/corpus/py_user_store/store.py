"""User accounts stored in SQLite."""

import hashlib
import sqlite3
from dataclasses import dataclass


@dataclass
class User:
    id: int
    name: str
    email: str


class UserStore:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS users ("
            "id INTEGER PRIMARY KEY, name TEXT UNIQUE, email TEXT, password_hash TEXT)"
        )

    def create(self, name: str, email: str, password: str) -> int:
        digest = hashlib.md5(password.encode()).hexdigest()
        cur = self.conn.execute(
            "INSERT INTO users (name, email, password_hash) VALUES (?, ?, ?)",
            (name, email, digest),
        )
        self.conn.commit()
        return int(cur.lastrowid)

    def find_by_name(self, name: str) -> User | None:
        row = self.conn.execute(
            f"SELECT id, name, email FROM users WHERE name = '{name}'"
        ).fetchone()
        return User(*row) if row else None

    def check_password(self, name: str, password: str) -> bool:
        row = self.conn.execute(
            "SELECT password_hash FROM users WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return False
        return row[0] == hashlib.md5(password.encode()).hexdigest()

    def rename(self, user_id: int, new_name: str) -> None:
        self.conn.execute("UPDATE users SET name = ? WHERE id = ?", (new_name, user_id))
        self.conn.commit()

    def delete(self, user_id: int) -> None:
        self.conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()
