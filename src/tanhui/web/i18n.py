"""The web pages' words: English message ids with their zh-CN texts (zh-CN is the default language).

Templates call ``{{ _("My carbon account") }}``; in English the id is the text, in zh-CN the catalogue
gives the translation (an id missing from it shows in English, and tests/web/test_i18n.py fails).
To add a language: add its code to LANGUAGES, a column to the catalogue (a dict per language), and
the switch link in templates/base.html. Error messages come from tanhui.messages, shared with the
API and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh-CN", "en")

ZH: dict[str, str] = {
    # layout and navigation
    "Tanhui": "碳惠",
    "Skip to content": "跳到正文",
    "Main": "主导航",
    "Operator": "运营方",
    "Dashboard": "总览",
    "Review": "审核",
    "Catalog": "商品目录",
    "Orders": "订单",
    "Organisations": "机构",
    "Sign out": "退出",
    "My account": "我的账户",
    "Market": "积分商城",
    "My orders": "我的订单",
    "Sign in": "登录",
    "Register": "注册",
    "Credit registry": "碳信用登记簿",
    "Tanhui — open-source carbon inclusion platform": "碳惠 — 开源碳普惠平台",
    "Back": "返回",
    "Not found": "找不到该页面",
    "Please sign in": "请先登录",
    "Not allowed": "无权访问",
    "Something went wrong": "出错了",
    "This cannot be used": "无法处理该请求",
    "Too many requests": "请求过于频繁",
    "There is no page at this address. Check the address, or start again from the menu.": "这个网址没有对应的页面。请检查网址，或从菜单重新进入。",
    "The address or the form holds a value this page cannot use.": "网址或表单中有本页无法处理的内容。",
    "Something went wrong on our side. Please try again in a moment.": "我们这边出了点问题，请稍后再试。",
    "Welcome": "欢迎",
    # home and sign-in
    "Your everyday low-carbon life, counted": "记录你的每一次低碳行动",
    "Bus rides, cycling, walking, clean plates and recycling become grams of CO₂e avoided, points and rewards.": "乘公交、骑行、步行、光盘、回收……每一次都换算成减少的二氧化碳排放，并获得积分与奖励。",
    "Came from a partner app?": "从合作方应用进入？",
    "Open Tanhui from the app you use (bus, bank, step counter): it signs you in directly.": "在你常用的应用（公交、银行、计步）中打开碳惠，即可直接登录。",
    "Operators": "运营方",
    "Operator sign-in": "运营方登录",
    "Scheme": "所属方案",
    "Name shown on leaderboards (optional)": "排行榜显示名（可选）",
    "Username": "用户名",
    "Password": "密码",
    "At least 8 characters.": "至少 8 个字符。",
    "No account yet? Register": "还没有账户？注册",
    "Already registered? Sign in": "已有账户？登录",
    "Create my carbon account": "开通我的碳账户",
    "This sign-in link has expired or was used already. Open Tanhui from your app again.": "登录链接已过期或已使用，请从应用中重新打开碳惠。",
    # my carbon account
    "My carbon account": "我的碳账户",
    "Total reduction": "累计减排",
    "Source": "来源",
    "Points and check-in": "积分与签到",
    "Points": "积分",
    "Day streak": "连续签到天数",
    "best": "最长",
    "Checked in today": "今日已签到",
    "Check in today": "今日签到",
    "My rank": "我的排名",
    "of": "共",
    "people": "人",
    "Rank in": "排名：",
    "Join your organisation": "加入你的机构",
    "Badges": "徽章",
    "My reduction over time": "我的累计减排",
    "By scenario": "按场景",
    "Nothing credited yet.": "还没有入账的行为。",
    "Credited behaviours": "已入账的低碳行为",
    "pts": "分",
    "All history": "全部记录",
    "Data sources I authorised": "我授权的数据来源",
    "since": "授权于",
    "Revoke": "撤回授权",
    "None.": "无。",
    "My data": "我的数据",
    "Download all my data (JSON)": "下载我的全部数据（JSON）",
    "Delete my account": "注销我的账户",
    "When": "时间",
    "Scenario": "场景",
    "Reduction (g)": "减排量（克）",
    "Methodology": "方法学",
    "Older": "更早",
    "Calculation": "计算过程",
    "reported by": "上报方",
    "Methodology and version": "方法学及版本",
    "Inputs": "输入数据",
    "Emission factors and their sources": "排放因子及来源",
    "Factor": "因子",
    "Value": "数值",
    "Formula": "公式",
    "Result": "结果",
    "rounded": "取整",
    "points": "积分",
    "Your name, username, password and the links to partner apps are deleted, every authorisation is withdrawn and you are signed out everywhere. What was already credited stays in the scheme's ledger under a number that no longer points to you. This cannot be undone.": "你的姓名、用户名、密码以及与合作方应用的关联将被删除，所有授权将被撤回，所有设备上的登录都会退出。已入账的减排量仍以不再指向你的编号保留在方案账本中。此操作无法撤销。",
    "I understand; delete my account": "我已了解，注销我的账户",
    "Cancel": "取消",
    # market
    "my points": "我的积分",
    "Categories": "分类",
    "All": "全部",
    "in stock": "库存",
    "Nothing here yet.": "暂无内容。",
    "Price": "价格",
    "Merchant": "商户",
    "In stock": "库存",
    "Limit per person": "每人限兑",
    "My points": "我的积分",
    "Redeem": "兑换",
    "for": "，花费",
    "Confirm redemption": "确认兑换",
    "Quantity": "数量",
    "Coupon code": "券码",
    "Cancel order": "取消订单",
    "No orders yet.": "还没有订单。",
    "Redeemed.": "兑换成功。",
    # organisations
    "My organisations": "我的机构",
    "members": "名成员",
    "You have not joined an organisation yet.": "你还没有加入机构。",
    "Invite code": "邀请码",
    "Join": "加入",
    "Organisations in the scheme": "方案内机构排行",
    "Organisation": "机构",
    "Members": "成员数",
    "Members' total": "成员累计减排",
    "Place among organisations": "机构排名",
    "Leaderboard of members": "成员排行榜",
    "Member": "成员",
    "Employee carbon accounts": "员工碳账户",
    # operator dashboard
    "Period": "统计区间",
    "From": "开始",
    "To": "结束",
    "Show": "查看",
    "Registered users": "注册用户",
    "Daily active users": "日活跃用户",
    "Total reduction (t CO₂e)": "累计减排（吨 CO₂e）",
    "Points issued": "已发放积分",
    "Points redeemed": "已兑换积分",
    "Events credited": "入账行为数",
    "Reduction per day": "每日减排",
    "Active users per day": "每日活跃用户",
    "daily series": "每日数据",
    "By partner": "按合作方",
    "Partners' health": "合作方数据质量",
    "Partner": "合作方",
    "Events": "上报数",
    "per day": "日均",
    "Trend": "趋势",
    "Rejected": "拒绝率",
    "Rejected by reason": "拒绝原因",
    "Rejected events to review": "待审核的拒绝记录",
    "Filter": "筛选",
    "Export": "导出",
    "operators only (personal data)": "仅运营者可导出（含个人数据）",
    "Name": "名称",
    "Kind": "类型",
    "Create organisation": "创建机构",
    # table columns
    "received": "接收时间",
    "partner": "合作方",
    "scenario": "场景",
    "reason": "原因",
    "account": "账户",
    "details": "详情",
    "item": "商品编号",
    "title": "名称",
    "category": "分类",
    "kind": "类型",
    "stock": "库存",
    "merchant": "商户",
    "status": "状态",
    "order": "订单号",
    "created": "下单时间",
    "quantity": "数量",
    "organisation": "机构编号",
    "name": "名称",
    "kg": "千克 CO₂e",
    "invite_code": "邀请码",
    "#": "#",
    "time": "时间",
    "actor": "操作人",
    "action": "操作",
    "target": "对象",
    "Audit log": "审计日志",
}

SCENARIOS: dict[str, tuple[str, str]] = {
    "bus_ride": ("公交出行", "Bus ride"),
    "metro_ride": ("地铁出行", "Metro ride"),
    "walking": ("步行", "Walking"),
    "cycling": ("骑行", "Cycling"),
    "clean_plate": ("光盘行动", "Clean plate"),
    "recycling": ("垃圾分类回收", "Recycling"),
    "ev_charging": ("新能源车充电", "EV charging"),
    "car_free_day": ("绿色停驶", "Car-free day"),
    "carpool": ("拼车", "Carpool"),
    "paperless_bill": ("电子账单", "Paperless bill"),
    "e_invoice": ("电子发票", "E-invoice"),
    "online_service": ("线上办事", "Online service"),
    "second_hand": ("二手交易", "Second-hand"),
    "reusable_bag": ("自带购物袋", "Reusable bag"),
    "reusable_cup": ("自带杯", "Reusable cup"),
    "electricity_saving": ("节约用电", "Electricity saving"),
}


# Every enumeration a page shows, by group: the stored code → (zh-CN, English). A code is never shown as
# it is (issue 17): pages call label(group, code); tests/web/test_raw_codes.py builds the codes from the
# code's constants, checks each has a label here and that none appears on the Chinese pages.
ENUMS: dict[str, dict[str, tuple[str, str]]] = {
    "order_status": {  # domain/market.py
        "pending": ("待发货", "Awaiting shipment"),
        "shipped": ("已发货", "Shipped"),
        "delivered": ("已签收", "Delivered"),
        "fulfilled": ("已完成", "Completed"),
        "cancelled": ("已取消", "Cancelled"),
    },
    "item_kind": {  # domain/market.py KINDS
        "coupon": ("优惠券", "Coupon"),
        "physical": ("实物", "Goods"),
        "service": ("服务", "Service"),
        "donation": ("公益捐赠", "Donation"),
    },
    "item_status": {"active": ("上架中", "On sale"), "hidden": ("已下架", "Withdrawn")},  # services/market.py
    "category": {
        "food": ("餐饮", "Food and drink"),
        "daily": ("日用", "Daily goods"),
        "appliance": ("家电", "Appliances"),
        "cosmetics": ("美妆", "Cosmetics"),
        "culture": ("文化", "Culture"),
        "donation": ("公益捐赠", "Donations"),
        "service": ("服务", "Services"),
        "transport": ("出行", "Transport"),
        "other": ("其他", "Other"),
    },
    "org_kind": {  # services/organisations.py KINDS
        "company": ("企业", "Company"),
        "school": ("学校", "School"),
        "community": ("社区", "Community"),
        "government": ("政府机构", "Government body"),
        "group": ("社会团体", "Association"),
    },
    "consent_status": {"active": ("有效", "Active"), "revoked": ("已撤回", "Withdrawn")},  # services/consent.py
    "partner_status": {"active": ("启用", "Enabled"), "disabled": ("已停用", "Disabled")},  # services/partners.py
    "role": {"operator": ("运营者", "Operator"), "viewer": ("只读", "Viewer")},  # services/identity.py ROLES
    "reason": {  # domain/events.py REASON_ORDER
        "duplicate_event": ("重复上报", "Reported twice"),
        "event_id_reused": ("编号重复使用", "Event number reused"),
        "unknown_scenario": ("未知场景", "Unknown scenario"),
        "scenario_not_allowed": ("场景未开通", "Scenario not enabled"),
        "invalid_data": ("数据无效", "Invalid data"),
        "no_consent": ("未授权", "No consent"),
        "too_old": ("上报过晚", "Reported too late"),
        "in_future": ("时间在未来", "Dated in the future"),
        "implausible": ("不合常理", "Implausible"),
        "duplicate_behaviour": ("重复行为", "Same behaviour twice"),
        "cap_reached": ("超出每日上限", "Daily cap reached"),
    },
    "actor": {"system": ("系统", "System"), "operator": ("运营方", "Operator"), "token": ("令牌", "Token")},  # audit.py
    "action": {  # services/audit.py ACTIONS
        "scheme.create": ("创建方案", "Scheme created"),
        "scheme.apply": ("应用方案文件", "Scheme file applied"),
        "partner.create": ("创建合作方", "Partner created"),
        "partner.rotate_secret": ("轮换合作方密钥", "Partner secret rotated"),
        "partner.retire_old_secrets": ("停用合作方旧密钥", "Partner's old secrets retired"),
        "partner.disable": ("停用合作方", "Partner disabled"),
        "partner.enable": ("启用合作方", "Partner enabled"),
        "partner.set_scenarios": ("修改合作方场景", "Partner's scenarios changed"),
        "org.create": ("创建机构", "Organisation created"),
        "market.item_add": ("添加商品", "Item added"),
        "market.item_update": ("修改商品", "Item changed"),
        "market.import_codes": ("导入券码", "Coupon codes imported"),
        "market.ship": ("订单发货", "Order shipped"),
        "market.deliver": ("订单签收", "Order delivered"),
        "market.cancel": ("运营方取消订单", "Order cancelled by an operator"),
        "points.expire": ("积分到期处理", "Points expired"),
        "events.purge_payloads": ("清除原始数据", "Raw data purged"),
        "credits.issue": ("签发减排量", "Credits issued"),
        "credits.transfer": ("转让减排量", "Credits transferred"),
        "credits.retire": ("注销减排量", "Credits retired"),
        "credits.neutralise": ("活动碳中和", "Event neutralised"),
        "admin.create_user": ("创建运营方用户", "Operator user created"),
        "admin.token": ("签发运营方令牌", "Operator token issued"),
        "secrets.rotate_key": ("更换存储密钥的加密密钥", "Secret key rotated"),
    },
}

# The words of the audit log's and the review list's details (services' audit.record and the checks' details).
DETAIL_KEYS: dict[str, tuple[str, str]] = {
    "was": ("原状态", "was"),
    "points": ("积分", "points"),
    "kind": ("类型", "kind"),
    "timezone": ("时区", "time zone"),
    "scenarios": ("场景", "scenarios"),
    "retired": ("停用数", "retired"),
    "policy": ("规则", "policy"),
    "accounts": ("账户数", "accounts"),
    "fields": ("字段", "fields"),
    "rule": ("规则", "rule"),
    "field": ("字段", "field"),
    "reason": ("原因", "reason"),
    "created": ("新建", "created"),
    "operator_id": ("用户编号", "user number"),
    "role": ("角色", "role"),
    "expires_at": ("到期", "expires"),
    "file": ("文件", "file"),
    "items_created": ("新增商品", "items added"),
    "items_updated": ("修改商品", "items changed"),
    "partners_created": ("新增合作方", "partners added"),
    "partners_updated": ("修改合作方", "partners changed"),
    "scheme_created": ("新建方案", "scheme created"),
    "settings_changed": ("设置已修改", "settings changed"),
    "as_of": ("截至", "as of"),
    "batches": ("批次", "batches"),
    "issued": ("签发量（吨）", "issued (t)"),
    "methodology": ("方法学", "methodology"),
    "blocks": ("序列号区块", "serial blocks"),
    "bought_from": ("来源", "bought from"),
    "emission_t": ("排放量（吨）", "emissions (t)"),
    "holder": ("持有方", "holder"),
    "quantity": ("数量", "quantity"),
    "codes": ("券码数", "codes"),
    "item": ("商品", "item"),
    "changes": ("修改", "changes"),
    "from_keys": ("原加密密钥", "previous keys"),
    "rows": ("重新加密数", "re-sealed"),
}
YES_NO = (("是", "yes"), ("否", "no"))


def label(lang: str) -> Callable[[str, str | None], str]:
    """``label(lang)("order_status", "pending")`` → 待发货 / Awaiting shipment; an unknown code stays as it is."""
    index = 1 if lang == "en" else 0

    def named(group: str, code: str | None) -> str:
        if code is None:
            return "—"
        found = ENUMS.get(group, {}).get(code)
        return found[index] if found else code

    return named


def translator(lang: str) -> Callable[[str], str]:
    if lang == "en":
        return lambda text: text
    return lambda text: ZH.get(text, text)


def scenario_name(lang: str) -> Callable[[str], str]:
    index = 1 if lang == "en" else 0
    return lambda key: SCENARIOS[key][index] if key in SCENARIOS else key
