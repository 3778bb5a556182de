"""The words of the organisation administrators' pages and of password reset (issue 17), kept beside
web/i18n.py so neither module outgrows the adapters' size rule; web/i18n.py adds them to `ZH`."""

from __future__ import annotations

ORG_ADMIN: dict[str, str] = {
    # an organisation's own administrator (pages/org_admin.py)
    "Organisation": "机构",
    "Overview": "概览",
    "Member list": "成员名单",
    "Average per member": "人均减排",
    "Every member": "全部成员",
    "People join the organisation with this code on their Organisations page.": "成员在“机构”页面输入这个邀请码即可加入。",
    "Make a new invite code": "更换邀请码",
    "The old code stops working; members stay.": "旧邀请码随即失效，已加入的成员不受影响。",
    "A new invite code is ready; the old one no longer works.": "新邀请码已生成，旧邀请码已失效。",
    "Remove": "移出",
    "Remove…": "移出…",
    "They leave the organisation; their account, points and reductions stay.": "该成员将离开本机构，其账户、积分和减排量不受影响。",
    "Remove from the organisation": "确认移出本机构",
    "The member was removed from the organisation.": "已将该成员移出本机构。",
    # password reset (pages/password_reset.py)
    "Password reset": "重置密码",
    "Password reset links": "重置密码链接",
    "For a person who registered with a username and forgot the password. Give them the link yourself (in person or by phone): it is shown only here and only once, works once, and ends when it expires or when a newer link is issued.": "用于用用户名注册、忘记了密码的用户。请亲自（当面或电话）把链接交给本人：链接只在此处显示一次，只能使用一次，到期或签发新链接后即失效。",
    "The link for {username}": "{username} 的重置链接",
    "Valid until": "有效期至",
    "Valid for (hours)": "有效期（小时）",
    "Issue a reset link": "签发重置链接",
    "Set a new password": "设置新密码",
    "This link works once. After the new password is set, every place you were signed in is signed out.": "此链接只能使用一次。设置新密码后，所有已登录的地方都会退出登录。",
    "New password": "新密码",
    "The new password again": "再次输入新密码",
    "Set the new password": "设置新密码",
    "Your new password is set. Sign in with it.": "新密码已设置，请用新密码登录。",
}
