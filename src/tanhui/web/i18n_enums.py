"""The names of every enumeration the pages show (issue 17), kept beside web/i18n.py so neither
module outgrows the adapters' size rule; web/i18n.py re-exports `ENUMS`."""

from __future__ import annotations

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
    "board_period": {  # domain/leaderboard.py PERIODS
        "week": ("本周", "This week"),
        "month": ("本月", "This month"),
        "all": ("全部", "All time"),
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
    "role": {  # services/identity.py ROLES and ORG_ADMIN
        "operator": ("运营者", "Operator"),
        "viewer": ("只读", "Viewer"),
        "org_admin": ("机构管理员", "Organisation administrator"),
    },
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
    "input_problem": {  # domain/methodology/inputs.py, domain/events.py parse_event
        "missing": ("缺失", "is missing"),
        "invalid": ("无效", "is not valid"),
        "invalid_type": ("类型不对", "has the wrong type"),
        "out_of_range": ("超出范围", "is out of range"),
        "not_allowed": ("不是允许的取值", "is not an allowed value"),
        "too_long": ("过长", "is too long"),
    },
    "actor": {  # audit.py
        "system": ("系统", "System"),
        "operator": ("运营方", "Operator"),
        "token": ("令牌", "Token"),
        "org_admin": ("机构管理员", "Organisation administrator"),
        "person": ("用户本人", "The person"),
    },
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
        "org.grant_admin": ("设置机构管理员", "Organisation administrator appointed"),
        "org.revoke_admin": ("撤销机构管理员", "Organisation administrator removed"),
        "org.new_invite_code": ("更换机构邀请码", "Organisation invite code renewed"),
        "org.remove_member": ("移出机构成员", "Member removed from an organisation"),
        "market.item_add": ("添加商品", "Item added"),
        "market.item_update": ("修改商品", "Item changed"),
        "market.import_codes": ("导入券码", "Coupon codes imported"),
        "market.ship": ("订单发货", "Order shipped"),
        "market.deliver": ("订单签收", "Order delivered"),
        "market.cancel": ("运营方取消订单", "Order cancelled by an operator"),
        "review.confirm": ("确认拒绝", "Rejection confirmed"),
        "review.accept": ("核实后入账", "Accepted after review"),
        "points.expire": ("积分到期处理", "Points expired"),
        "events.purge_payloads": ("清除原始数据", "Raw data purged"),
        "credits.issue": ("签发减排量", "Credits issued"),
        "credits.transfer": ("转让减排量", "Credits transferred"),
        "credits.retire": ("注销减排量", "Credits retired"),
        "credits.neutralise": ("活动碳中和", "Event neutralised"),
        "admin.create_user": ("创建运营方用户", "Operator user created"),
        "admin.token": ("签发运营方令牌", "Operator token issued"),
        "person.password_reset": ("签发重置密码链接", "Password reset link issued"),
        "person.password_reset_done": ("用户通过链接重设密码", "Password set with a reset link"),
        "secrets.rotate_key": ("更换存储密钥的加密密钥", "Secret key rotated"),
        "interop.init": ("初始化平台互联身份", "Interconnection identity created"),
        "interop.peer_add": ("添加互联平台", "Peer platform added"),
        "interop.peer_remove": ("移除互联平台", "Peer platform removed"),
    },
}
