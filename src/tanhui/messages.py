"""User-facing texts by machine code, zh-CN first with an English option.

One table so that every adapter shows the same words for the same code.
"""

from __future__ import annotations

import os
from typing import Any

DEFAULT_LANG = "zh-CN"

MESSAGES: dict[str, dict[str, str]] = {
    "scheme_exists": {
        "zh-CN": "方案 {scheme_id} 已存在",
        "en": "scheme {scheme_id} already exists",
    },
    "scheme_not_found": {
        "zh-CN": "找不到方案 {scheme_id}",
        "en": "scheme {scheme_id} not found",
    },
    "invalid_scheme_id": {
        "zh-CN": "方案编号 {scheme_id!r} 无效：只能用小写字母、数字、- 和 _（2–32 个字符，以字母开头）",
        "en": "invalid scheme id {scheme_id!r}: use 2-32 of a-z, 0-9, - and _, starting with a letter",
    },
    "invalid_timezone": {
        "zh-CN": "未知时区 {timezone!r}（例如 Asia/Shanghai）",
        "en": "unknown time zone {timezone!r} (e.g. Asia/Shanghai)",
    },
    "invalid_name": {
        "zh-CN": "名称不能为空，且不超过 {max_len} 个字符",
        "en": "the name must be 1 to {max_len} characters",
    },
    "account_not_found": {
        "zh-CN": "找不到账户 {account_id}",
        "en": "account {account_id} not found",
    },
    "ledger_account_not_found": {
        "zh-CN": "找不到账本账户 {ledger_account_id}",
        "en": "ledger account {ledger_account_id} not found",
    },
    "invalid_posting": {
        "zh-CN": "记账分录无效：{reason}",
        "en": "invalid posting: {reason}",
    },
    "insufficient_balance": {
        "zh-CN": "余额不足：账户 {ledger_account_id} 余额 {balance}，需要 {amount}",
        "en": "insufficient balance: account {ledger_account_id} holds {balance}, needs {amount}",
    },
    "idempotency_conflict": {
        "zh-CN": "幂等键 {key} 已用于内容不同的请求",
        "en": "idempotency key {key} was already used with different content",
    },
    "entry_not_found": {
        "zh-CN": "找不到账本记录 {entry_id}",
        "en": "journal entry {entry_id} not found",
    },
    "already_reversed": {
        "zh-CN": "账本记录 {entry_id} 已被冲正",
        "en": "journal entry {entry_id} was already reversed",
    },
    "cannot_reverse_reversal": {
        "zh-CN": "冲正记录 {entry_id} 不能再次冲正",
        "en": "journal entry {entry_id} is itself a reversal and cannot be reversed",
    },
    "invalid_database_url": {
        "zh-CN": "数据库地址无效：{url}",
        "en": "invalid database URL: {url}",
    },
    "database_not_initialised": {
        "zh-CN": "数据库尚未初始化，请先运行 tanhui db upgrade",
        "en": "the database is not initialised: run `tanhui db upgrade` first",
    },
    "invalid_json": {
        "zh-CN": "不是有效的 JSON：{reason}",
        "en": "not valid JSON: {reason}",
    },
    "partner_not_found": {"zh-CN": "找不到合作方 {partner_id}", "en": "partner {partner_id} not found"},
    "invalid_scenarios": {
        "zh-CN": "场景无效：{scenarios}（须为方法学库中的场景，如 bus_ride）",
        "en": "invalid scenarios: {scenarios} (use scenario keys of the methodology library, e.g. bus_ride)",
    },
    "unknown_partner": {"zh-CN": "未知或已停用的合作方", "en": "unknown or disabled partner"},
    "unknown_platform": {"zh-CN": "未知或已移除的互联平台 {platform_id}", "en": "unknown or removed peer platform {platform_id}"},
    "invalid_platform_id": {
        "zh-CN": "平台编号 {platform_id!r} 无效：3–64 个小写字母、数字、- 或 .，以字母开头",
        "en": "invalid platform id {platform_id!r}: 3-64 of a-z, 0-9, '-' and '.', starting with a letter",
    },
    "platform_exists": {
        "zh-CN": "本平台已初始化互联身份 {platform_id}，私钥不会重新生成",
        "en": "this platform already has its interconnection identity {platform_id}; the key pair is not made again",
    },
    "interop_not_initialised": {
        "zh-CN": "本平台尚未初始化互联身份（tanhui interop init）",
        "en": "this platform has no interconnection identity yet (tanhui interop init)",
    },
    "peer_exists": {"zh-CN": "互联平台 {platform_id} 已添加", "en": "peer platform {platform_id} is already added"},
    "invalid_offer": {
        "zh-CN": "跨平台转让的报价格式不正确（{reason}）",
        "en": "the credit transfer offer is not valid ({reason})",
    },
    "offer_conflict": {
        "zh-CN": "转让 {transfer_id} 此前已以不同内容提交",
        "en": "transfer {transfer_id} came before with another offer",
    },
    "transfer_not_found": {"zh-CN": "找不到转让 {transfer_id}", "en": "no transfer {transfer_id}"},
    "peer_not_found": {"zh-CN": "找不到互联平台 {platform_id}", "en": "no peer platform {platform_id}"},
    "demo_first_city_not_running": {
        "zh-CN": "第一座演示城市没有在 {url} 运行：先在另一个终端运行 ./run demo",
        "en": "the first demo city is not running at {url}: run ./run demo in another terminal first",
    },
    "peer_unreachable": {
        "zh-CN": "无法连接互联平台 {platform_id}（{reason}）",
        "en": "peer platform {platform_id} cannot be reached ({reason})",
    },
    "bad_signature": {"zh-CN": "签名缺失或不正确（{reason}）", "en": "missing or wrong signature ({reason})"},
    "stale_request": {
        "zh-CN": "请求时间戳与服务器时间相差超过 {skew_s} 秒",
        "en": "request timestamp more than {skew_s} s from the server clock",
    },
    "replayed_request": {
        "zh-CN": "该 nonce 已在 {window_s} 秒内使用过",
        "en": "this nonce was already used within the last {window_s} s",
    },
    "consent_not_found": {
        "zh-CN": "找不到用户 {user_ref} 的有效授权",
        "en": "no active consent for user {user_ref}",
    },
    "invalid_binding_code": {"zh-CN": "绑定码无效或已过期", "en": "unknown or expired binding code"},
    "user_ref_linked": {
        "zh-CN": "用户 {user_ref} 已关联到另一个账户",
        "en": "user {user_ref} is already linked to another account",
    },
    "invalid_points_rule": {"zh-CN": "积分规则无效：{field}", "en": "invalid points rule: {field}"},
    "invalid_request": {"zh-CN": "请求内容无效", "en": "invalid request"},
    "argument_not_utf8": {
        "zh-CN": "第 {position} 个参数不是 UTF-8 文本（请检查终端编码）",
        "en": "argument {position} is not UTF-8 text (check the terminal's encoding)",
    },
    "not_found": {"zh-CN": "找不到该路径", "en": "no such path"},
    "tls_pair_incomplete": {
        "zh-CN": "--certfile 和 --keyfile 须同时给出",
        "en": "--certfile and --keyfile go together: give both",
    },
    "tls_file_unusable": {
        "zh-CN": "无法使用 TLS 证书或私钥 {path}：{reason}",
        "en": "cannot use the TLS certificate or key {path}: {reason}",
    },
    "invalid_env_setting": {
        "zh-CN": "环境变量 {name}={value!r} 无效：须为不小于 1 的整数",
        "en": "{name}={value!r} is not valid: a whole number >= 1 is required",
    },
    "payload_too_large": {
        "zh-CN": "请求过大：{what}",
        "en": "payload too large: {what}",
    },
    "rate_limited": {
        "zh-CN": "请求过于频繁，请 {retry_after} 秒后再试",
        "en": "too many requests: retry after {retry_after} s",
    },
    "unauthorised": {"zh-CN": "需要有效的登录令牌", "en": "a valid bearer token is required"},
    "partner_session_forbidden": {
        "zh-CN": "合作方应用打开的会话不能执行此操作（{action}）；请用你自己的账号密码登录",
        "en": "a session opened by a partner's app may not do this ({action}); sign in with your own username and password",
    },
    # -- operations: readiness, backup and restore --
    "not_ready": {"zh-CN": "服务尚未就绪（{reason}）", "en": "not ready ({reason})"},
    "database_damaged": {
        "zh-CN": "数据库文件已损坏（{problem}）：请停止服务并从备份恢复（见 docs/operations.md）",
        "en": "the database file is damaged ({problem}): stop the server and restore from a backup (see docs/operations.md)",
    },
    "backup_target_exists": {"zh-CN": "{path} 已存在；要覆盖请加 --force", "en": "{path} exists; add --force to overwrite it"},
    "backup_source_missing": {"zh-CN": "找不到数据库文件 {path}", "en": "database file {path} not found"},
    "backup_needs_sqlite": {
        "zh-CN": "PostgreSQL 数据库请用 pg_dump 备份（命令见上，参见 docs/operations.md）",
        "en": "back up PostgreSQL with pg_dump (command above; see docs/operations.md)",
    },
    "restore_needs_sqlite": {
        "zh-CN": "PostgreSQL 数据库请用 pg_restore 恢复，然后运行 tanhui verify（参见 docs/operations.md）",
        "en": "restore PostgreSQL with pg_restore, then run tanhui verify (see docs/operations.md)",
    },
    # -- secrets at rest (tanhui.secretbox) --
    "secret_key_missing": {
        "zh-CN": "没有配置存储密钥：使用 PostgreSQL 时请设置 TANHUI_SECRET_KEY_FILE，每台服务器用同一个密钥（见 docs/operations.md）",
        "en": "no secret key configured: with PostgreSQL set TANHUI_SECRET_KEY_FILE, the same on every server (see docs/operations.md)",
    },
    "secret_key_invalid": {
        "zh-CN": "{where} 中的密钥无效：每个密钥是 32 字节的 base64 文本（用 tanhui secrets new-key 生成）",
        "en": "invalid secret key in {where}: each key is base64 of 32 bytes (make one with `tanhui secrets new-key`)",
    },
    "secret_key_file_unreadable": {
        "zh-CN": "无法读取密钥文件 {path}：{reason}",
        "en": "cannot read the secret key file {path}: {reason}",
    },
    "secret_key_file_exposed": {
        "zh-CN": "密钥文件 {path} 的权限是 {mode}，同组或其他用户可以读取；请执行 chmod 600 {path}",
        "en": "the secret key file {path} has mode {mode}: the group or others can read it; run chmod 600 {path}",
    },
    "secret_key_unknown": {
        "zh-CN": "已存储的密钥由密钥 {key_id} 加密，但 {where} 中只有 {known}：请配置加密时使用的密钥",
        "en": "stored secrets are sealed with key {key_id}, but {where} holds only {known}: configure the key they were sealed with",
    },
    "secret_damaged": {
        "zh-CN": "用密钥 {key_id} 加密的存储密钥无法解密（数据已损坏或被改动）",
        "en": "a stored secret sealed with key {key_id} does not open (damaged or altered)",
    },
    "secret_key_file_exists": {
        "zh-CN": "{path} 已存在；密钥文件从不覆盖，请换一个文件名",
        "en": "{path} exists: a key file is never overwritten; choose another name",
    },
    "secret_key_same": {
        "zh-CN": "新密钥 {key_id} 就是当前密钥；请用 tanhui secrets new-key 生成一个新的",
        "en": "the new key {key_id} is the current key; make a new one with `tanhui secrets new-key`",
    },
    "restore_target_exists": {"zh-CN": "{path} 已存在；要替换请加 --force", "en": "{path} exists; add --force to replace it"},
    "restore_not_tanhui": {"zh-CN": "{path} 不是碳惠数据库（{reason}）", "en": "{path} is not a Tanhui database ({reason})"},
    "restore_unknown_revision": {
        "zh-CN": "{path} 的数据库版本 {revision} 本程序不认识",
        "en": "{path} is at schema revision {revision}, which this version does not know",
    },
    "restore_verify_failed": {
        "zh-CN": "备份校验失败，未替换：{problem}",
        "en": "the backup failed verification and was not restored: {problem}",
    },
    "restore_target_busy": {
        "zh-CN": "{path} 正在被使用；请先停止服务",
        "en": "{path} is in use; stop the server first",
    },
    "method_not_allowed": {"zh-CN": "不支持该请求方法", "en": "method not allowed"},
    "internal_error": {"zh-CN": "服务器内部错误，请稍后重试", "en": "internal error: please retry later"},
    "import_failed": {
        "zh-CN": "导入在第 {batch} 批停止（之前的批次已写入，重新导入同一文件不会重复入账）：{problem}",
        "en": "import stopped at batch {batch} (earlier batches are written; importing the file again changes nothing for them): {problem}",
    },
    "item_exists": {"zh-CN": "商品 {key} 已存在", "en": "item {key} already exists"},
    "item_not_found": {"zh-CN": "找不到商品 {item_id}", "en": "item {item_id} not found"},
    "invalid_item": {"zh-CN": "商品信息无效：{fields}", "en": "invalid item: {fields}"},
    "invalid_codes": {"zh-CN": "券码无效（{count} 个）", "en": "invalid coupon codes ({count})"},
    "not_on_sale": {"zh-CN": "商品 {item_id} 当前不在兑换期内", "en": "item {item_id} is not on sale now"},
    "limit_reached": {"zh-CN": "已达到每人限兑数量（{limit}）", "en": "per-person limit reached ({limit})"},
    "out_of_stock": {"zh-CN": "商品 {item_id} 库存不足", "en": "item {item_id} is out of stock"},
    "insufficient_points": {
        "zh-CN": "积分不足：需要 {points}，当前 {balance}",
        "en": "not enough points: {points} needed, {balance} available",
    },
    "order_not_found": {"zh-CN": "找不到订单 {order_id}", "en": "order {order_id} not found"},
    "invalid_shipment": {
        "zh-CN": "发货信息不完整：请填写快递公司和运单号（运单号为 4–40 位字母、数字或 -）",
        "en": "the shipment needs a carrier and a tracking number (4-40 letters, digits or dashes)",
    },
    "not_cancellable": {
        "zh-CN": "订单 {order_id} 当前状态为 {status}，不能取消",
        "en": "order {order_id} is {status} and can no longer be cancelled",
    },
    "order_transition": {
        "zh-CN": "订单 {order_id} 不能从 {status} 变为 {wanted}",
        "en": "order {order_id} cannot go from {status} to {wanted}",
    },
    "invalid_settings": {"zh-CN": "方案设置无效：{field}", "en": "invalid scheme settings: {field}"},
    "invalid_setting": {
        "zh-CN": "方案设置 {field} 无效（允许：{allowed}）",
        "en": "invalid setting {field} (allowed: {allowed})",
    },
    "invalid_scheme_file": {"zh-CN": "方案文件 {file} 无效：{reason}", "en": "invalid scheme file {file}: {reason}"},
    "as_of_in_future": {
        "zh-CN": "日期 {as_of} 晚于今天（方案时区的 {today}）：只能用今天或更早的日期",
        "en": "date {as_of} is after today ({today} in the scheme's time zone): use today or an earlier date",
    },
    "invalid_data": {
        "zh-CN": "行为数据无效：{fields}",
        "en": "invalid behaviour data: {fields}",
    },
    "implausible": {
        "zh-CN": "行为数据不合常理（规则 {rule}：{text}）",
        "en": "implausible behaviour data (rule {rule}: {text})",
    },
    "unknown_scenario": {
        "zh-CN": "未知场景 {scenario}，或该场景在 {date} 没有生效的方法学",
        "en": "unknown scenario {scenario}, or no methodology for it in force on {date}",
    },
    "unknown_methodology": {
        "zh-CN": "找不到方法学 {ref}",
        "en": "methodology {ref} not found",
    },
    "invalid_methodology": {
        "zh-CN": "方法学文件 {file} 的字段 {field} 无效：{reason}",
        "en": "methodology file {file}: field {field} is invalid: {reason}",
    },
    "invalid_methodology_pin": {
        "zh-CN": "场景 {scenario} 锁定的方法学 {pin} 不存在或不属于该场景",
        "en": "the methodology {pin} pinned for scenario {scenario} does not exist or quantifies another scenario",
    },
    # -- the credit registry (docs/registry.md) --
    "registry_busy": {"zh-CN": "登记簿正忙，请重试", "en": "the registry is busy: please retry"},
    "organisation_not_found": {"zh-CN": "找不到机构 {organisation_id}", "en": "organisation {organisation_id} not found"},
    "invalid_organisation_kind": {
        "zh-CN": "机构类型 {kind} 无效（可选：{kinds}）",
        "en": "invalid organisation kind {kind} (one of: {kinds})",
    },
    "invalid_serial_range": {"zh-CN": "序列号范围 {first}–{last} 无效", "en": "invalid serial range {first}-{last}"},
    "invalid_delivery": {
        "zh-CN": "收货信息有误：{fields}",
        "en": "the delivery details are incomplete or wrong: {fields}",
    },
    "invalid_quantity": {
        "zh-CN": "数量 {quantity} 无效：须为正整数",
        "en": "invalid quantity {quantity}: a positive whole number is needed",
    },
    "invalid_block_id": {"zh-CN": "序列号区块编号 {block_id} 无效", "en": "invalid block id {block_id}"},
    "insufficient_credits": {
        "zh-CN": "减排量不足：持有 {available} 吨，需要 {quantity} 吨",
        "en": "not enough credits: {available} held, {quantity} needed",
    },
    "invalid_registry_settings": {"zh-CN": "方案的登记簿设置无效：{reason}", "en": "invalid registry settings: {reason}"},
    "invalid_vintage": {"zh-CN": "年份 {vintage} 无效", "en": "invalid vintage {vintage}"},
    "invalid_emission": {
        "zh-CN": "排放量 {emission_t} 无效：须为正数（吨 CO2e）",
        "en": "invalid emission estimate {emission_t}: a positive number of t CO2e is needed",
    },
    "invalid_text": {"zh-CN": "{field} 不能为空，且不超过 {max_len} 个字符", "en": "{field} must be 1 to {max_len} characters"},
    "invalid_idempotency_key": {"zh-CN": "幂等键须为 1–200 个字符", "en": "the idempotency key must be 1-200 characters"},
    "same_holder": {"zh-CN": "转出方和转入方相同（{holder}）", "en": "the sender and the receiver are the same ({holder})"},
    "batch_not_found": {"zh-CN": "找不到批次 {batch_id}", "en": "batch {batch_id} not found"},
    "block_not_held": {"zh-CN": "转出方未持有序列号区块 {block_id}", "en": "the holder does not hold block {block_id}"},
    "retirement_not_found": {"zh-CN": "找不到注销记录 {retirement_id}", "en": "retirement {retirement_id} not found"},
    "behaviour_not_found": {
        "zh-CN": "你的账户里没有这条行为记录",
        "en": "there is no such behaviour in your account",
    },
    "certificate_font_missing": {
        "zh-CN": "无法生成 PDF 证书：服务器上没有可嵌入的中文字体（请安装 fonts-noto-cjk，或用 TANHUI_PDF_FONT 指定字体文件）",
        "en": "cannot make the PDF certificate: the server has no CJK font to embed (install fonts-noto-cjk, "
        "or point TANHUI_PDF_FONT at a font file)",
    },
    "event_not_found": {
        "zh-CN": "找不到合作方 {partner_id} 的行为 {event_id}",
        "en": "event {event_id} of partner {partner_id} not found",
    },
    # -- the operators' review queue (services/review.py) --
    "review_event_not_found": {
        "zh-CN": "审核队列中没有编号为 {event} 的被拒记录",
        "en": "there is no rejected record {event} in the review queue",
    },
    "review_not_implausible": {
        "zh-CN": "只有因数据不合常理被拒的记录可以核实后入账",
        "en": "only a record rejected as implausible can be accepted after review",
    },
    "review_already_confirmed": {
        "zh-CN": "记录 {event} 的拒绝已确认，不能再入账",
        "en": "the rejection of record {event} was confirmed: it can no longer be accepted",
    },
    "review_no_data": {
        "zh-CN": "记录 {event} 的原始数据已按保留期限清除，无法重新计算，不能入账",
        "en": "the data of record {event} was purged after its retention period: it cannot be recalculated or credited",
    },
    "review_rejected_no_consent": {
        "zh-CN": "这位用户已撤回对该合作方的授权，记录 {event} 不能入账",
        "en": "the person withdrew their consent to this partner: record {event} cannot be credited",
    },
    "review_rejected_duplicate_behaviour": {
        "zh-CN": "同一行为已经入账，记录 {event} 不能重复入账",
        "en": "the same behaviour is already credited: record {event} cannot be credited twice",
    },
    "review_rejected_cap_reached": {
        "zh-CN": "这位用户当天（或当月）该场景的上限已满，记录 {event} 不能再入账",
        "en": "the person's daily (or monthly) cap for this scenario is reached: record {event} cannot be credited",
    },
    "review_rejected": {
        "zh-CN": "按其他规则记录 {event} 仍不能入账",
        "en": "another rule still refuses record {event}",
    },
    # -- the web application (docs/web.md) --
    "invalid_username": {"zh-CN": "用户名须为 3–32 个字母、数字或 _ . -", "en": "a username is 3-32 letters, digits, _ . or -"},
    "weak_password": {"zh-CN": "密码至少 {min_len} 个字符", "en": "a password needs at least {min_len} characters"},
    "username_taken": {"zh-CN": "用户名 {username} 已被使用", "en": "the username {username} is taken"},
    "bad_credentials": {"zh-CN": "用户名或密码不正确", "en": "wrong username or password"},
    "too_many_attempts": {
        "zh-CN": "登录失败次数过多，请 {retry_after} 秒后再试",
        "en": "too many failed sign-ins: try again in {retry_after} s",
    },
    "invalid_role": {"zh-CN": "角色 {role} 无效（operator 或 viewer）", "en": "invalid role {role} (operator or viewer)"},
    "unknown_audit_action": {
        "zh-CN": "未知的审计操作 {action}（可选：{actions}）",
        "en": "unknown audit action {action} (one of: {actions})",
    },
    "invalid_invite_code": {"zh-CN": "邀请码无效", "en": "unknown invite code"},
    "already_member": {"zh-CN": "你已是该机构成员", "en": "you are already a member"},
    "form_too_large": {"zh-CN": "表单字段过多", "en": "the form has too many fields"},
    "csrf_failed": {"zh-CN": "表单已过期，请刷新页面后重试", "en": "the form expired: reload the page and try again"},
    "forbidden": {"zh-CN": "当前角色无权执行此操作", "en": "your role may not do this"},
    "person_not_found": {
        "zh-CN": "本方案中没有直接注册的用户 {username}",
        "en": "no directly registered person {username} in this scheme",
    },
    "reset_link_invalid": {
        "zh-CN": "这个重置密码链接已过期或已被使用，请向运营方申请新的链接",
        "en": "this password reset link has expired or was used already: ask the operator for a new one",
    },
    "invalid_reset_ttl": {"zh-CN": "链接有效期须在 1 到 168 小时之间", "en": "a link lasts between 1 and 168 hours"},
    "passwords_differ": {"zh-CN": "两次输入的密码不一致", "en": "the two passwords differ"},
    "org_admin_not_found": {"zh-CN": "没有机构管理员 {username}", "en": "no organisation administrator {username}"},
    "member_not_found": {"zh-CN": "该机构没有成员 {account_id}", "en": "the organisation has no member {account_id}"},
    "font_missing": {
        "zh-CN": "服务器缺少中文字体 {font}，无法生成图片，请联系运营方安装",
        "en": "the server has no Chinese font ({font}), so the picture cannot be drawn; ask the operator to install it",
    },
}


def current_lang() -> str:
    """The language for CLI output: ``TANHUI_LANG`` (zh-CN or en), zh-CN by default."""
    lang = os.environ.get("TANHUI_LANG", DEFAULT_LANG)
    return "en" if lang.lower().startswith("en") else "zh-CN"


def render(code: str, lang: str = DEFAULT_LANG, **params: Any) -> str:
    texts = MESSAGES.get(code)
    if texts is None:
        return code if not params else f"{code}: {params}"
    template = texts.get(lang) or texts[DEFAULT_LANG]
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template
