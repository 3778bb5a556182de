"""`tanhui secrets ...`: the key that seals stored secrets (partner HMAC secrets) at rest."""

from __future__ import annotations

from pathlib import Path

import typer

from tanhui import secretbox
from tanhui.cli.audit import actor
from tanhui.cli.output import print_json, say
from tanhui.errors import InvalidInput
from tanhui.services import secret_keys
from tanhui.store import open_store

app = typer.Typer(
    help="Secret keys (存储密钥): the key that seals partners' secrets in the database; status, new keys, rotation.",
    no_args_is_help=True,
)


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Seal any secret still in plaintext, open every stored secret with the configured key, and show
    where the key comes from and how many secrets each key sealed (exit 2 if one does not open)."""
    store = open_store()
    store.require_initialised()
    found = secret_keys.check(store)
    if as_json:
        print_json(found.to_dict())
        return
    counts = ", ".join(f"{key} {n}" for key, n in sorted(found.by_key.items())) or "0"
    source = found.source or "—"
    say(
        f"密钥来源 {source}，当前密钥 {found.current_key or '—'}；已加密的密钥（按加密密钥）：{counts}；全部可以解密",
        f"keys from {source}, current key {found.current_key or '-'}; stored secrets by sealing key: {counts}; all open",
    )


@app.command("new-key")
def new_key(
    out: Path = typer.Argument(..., metavar="FILE", help="The key file to create (mode 0600; never overwritten)."),
) -> None:
    """Write a new random key to FILE (for TANHUI_SECRET_KEY_FILE or `rotate-key --new-key-file`)."""
    try:
        secretbox.write_key_file(out, [secretbox.new_key_text()], replace=False)
    except FileExistsError:
        raise InvalidInput("secret_key_file_exists", path=str(out)) from None
    except OSError as error:
        raise InvalidInput("secret_key_file_unreadable", path=str(out), reason=error.strerror or type(error).__name__) from None
    key_id = secretbox.read_key_file(out)[0].key_id
    say(f"已生成密钥 {key_id}：{out}（权限 0600）", f"new key {key_id} written to {out} (mode 0600)")


@app.command("rotate-key")
def rotate_key(
    new_key_file: Path = typer.Option(..., "--new-key-file", help="A key file (make one with `tanhui secrets new-key`)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Re-seal every stored secret with the key in --new-key-file, in one transaction (audited).

    With a key file configured (TANHUI_SECRET_KEY_FILE, or the default beside an SQLite database) the
    file is rewritten to hold the new key and running servers pick it up; with TANHUI_SECRET_KEY,
    set it to the new key and restart the servers.
    """
    store = open_store()
    done = secret_keys.rotate_key(store, new_key_file, actor=actor())
    if as_json:
        print_json(done.to_dict())
        return
    old = ", ".join(done.old_keys) or "—"
    say(
        f"已用新密钥 {done.new_key} 重新加密 {done.resealed} 个存储密钥（原密钥：{old}）",
        f"re-sealed {done.resealed} stored secret(s) with the new key {done.new_key} (was: {old})",
    )
    if done.installed_in:
        say(
            f"新密钥已写入 {done.installed_in}，运行中的服务会自动使用它；{new_key_file} 可以删除或作为备份另行保管",
            f"the new key is now in {done.installed_in} and running servers use it; "
            f"{new_key_file} can be deleted or kept apart as its backup",
        )
    else:
        say(
            f"请把 TANHUI_SECRET_KEY 改为 {new_key_file} 中的新密钥（或设置 TANHUI_SECRET_KEY_FILE={new_key_file}），然后重启所有服务",
            f"now set TANHUI_SECRET_KEY to the new key in {new_key_file} (or TANHUI_SECRET_KEY_FILE={new_key_file}) "
            "and restart every server",
        )
