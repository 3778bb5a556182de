"""The zh-CN texts of the residents' pages added in issue 17's second part — the calculation told in
words, consents and connecting an app, leaderboards, coupons, the badge wall and delivery — kept apart
from web/i18n.py (which merges them into `ZH`) so no catalogue outgrows the adapters' size rule.
"""

from __future__ import annotations

ENGAGEMENT: dict[str, str] = {
    # the calculation page
    "g CO₂e": "克 CO₂e",
    "How it was calculated": "计算方法",
    "What was reported": "上报的数据",
    "Nothing but the behaviour itself.": "只有这次行为本身，没有其他数据。",
    ": ": "：",
    "Number of the report": "上报编号",
    # my data sources (consents) and connecting an app
    "My data sources": "我的数据来源",
    "Authorisation withdrawn. You can grant it again below at any time.": "已撤回授权。你可以随时在下方重新授权。",
    "Authorised again: the app's next reports are credited to you.": "已重新授权：该应用之后上报的行为会计入你的账户。",
    "Apps I authorised": "我授权的应用",
    "withdrawn on": "撤回于",
    "Authorise again": "重新授权",
    "You have not connected an app yet. Connect one below, and your low-carbon behaviours in it are counted here.": (
        "你还没有连接任何应用。在下方连接一个应用，你在其中的低碳行为就会计入这里。"
    ),
    "Connect an app": "连接应用",
    "Get a binding code here. It works once, for 10 minutes.": "在这里获取一个绑定码，10 分钟内有效，只能使用一次。",
    "Open the app (for example your bus card or step counter) and choose “Connect Tanhui account”.": (
        "打开应用（例如公交卡或计步应用），选择“连接碳惠账户”。"
    ),
    "Enter the code there. The app then appears in the list above.": "在应用中输入绑定码，连接成功后它会出现在上方的列表里。",
    "Your binding code": "你的绑定码",
    "valid until": "有效期至",
    "Get another code": "重新获取绑定码",
    "Get a binding code": "获取绑定码",
    "Apps of this scheme you can connect": "本方案可连接的应用",
    ", ": "、",
    "Withdraw the authorisation": "撤回授权",
    "Withdraw the authorisation of {name}?": "撤回对“{name}”的授权？",
    "{name} can no longer report your low-carbon behaviours: from now on they are not credited.": (
        "“{name}”将不能再为你上报低碳行为，之后的行为不会再入账。"
    ),
    "Any sign-in that {name} opened for you ends at once.": "“{name}”为你打开的登录会立即失效。",
    "What was already credited, and your points, stay in your account.": "已经入账的减排量和你的积分都会保留。",
    "You can grant it again at any time on the page of your data sources.": "之后可以随时在“我的数据来源”页面重新授权。",
    "Manage, withdraw or grant again": "管理、撤回或重新授权",
    "You have not connected an app yet.": "你还没有连接任何应用。",
    # leaderboards and ranks
    "No. {n}": "第 {n} 名",
    "This organisation's place among the scheme's {n} organisations": "本机构在方案 {n} 个机构中的排名",
    "This organisation has no place among the scheme's organisations yet": "本机构在方案的机构中还没有排名",
    "My place among the members: No. {n} of {people}": "我在成员中排第 {n} 名（共 {people} 人上榜）",
    "I have no place yet: nothing credited in this period. My next low-carbon behaviour puts me on the board.": (
        "我还没有排名：这段时间还没有入账的低碳行为。下一次低碳行为就能让我上榜。"
    ),
    "Place": "名次",
    "me": "我",
    "Nobody has a reduction in this period yet.": "这段时间还没有人有减排记录。",
    "organisation No. {n} of {all}": "机构排名 第 {n} / {all}",
    "me: No. {n} of {all} members": "我在机构内 第 {n} / {all} 名",
    "me: no place yet": "我在机构内还没有排名",
    "No rank yet: my first low-carbon behaviour gives me one.": "还没有排名：完成第一次低碳行为后就会有排名。",
    "My place among the members of": "我在成员中的排名：",
    # coupons
    "Valid until": "有效期至",
    "expired": "已过期",
    "Where to use": "使用商户",
    "How to use": "使用方法",
    # the badge wall
    "Badge wall": "徽章墙",
    "{earned} of {all} badges earned": "已获得 {earned} / {all} 枚徽章",
    "Locked": "未解锁",
    "Badge earned": "已获得",
    "days": "天",
    "times": "次",
    # delivery of physical goods
    "Where should it go?": "送到哪里？",
    "Please check:": "请检查：",
    "Send it to my address": "寄到我的地址",
    "I will collect it at a pick-up point": "到自提点自取",
    "Recipient": "收货人",
    "Mobile phone": "手机号码",
    "Delivery address": "收货地址",
    "Pick-up point": "自提点",
    "Delivery method": "配送方式",
    "Address or pick-up point": "收货地址或自提点",
    "Only the scheme's operator sees these details, to send the good; they are deleted with your account.": (
        "只有方案运营方能看到这些信息，仅用于发货；注销账户时会一并删除。"
    ),
    "Where it goes is shown to operators only (personal data).": "收货信息仅运营者可见（个人信息）。",
    # the scheme's leaderboard of people
    "Leaderboard": "排行榜",
    "Everyone in the scheme by the reduction credited to them; names are masked. Counted at most a minute ago.": (
        "方案内所有人按入账减排量排名，姓名已隐去。排名每分钟更新。"
    ),
    "My place in the scheme: No. {n} of {people}": "我在方案内排第 {n} 名（共 {people} 人上榜）",
    "everyone in the scheme": "方案内所有人",
}
