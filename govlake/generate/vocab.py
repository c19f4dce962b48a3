"""Words for addresses, firm names, business scopes, causes of death and decisions.

Small literal tables; every entry is in GBK. Shares given here are rough, chosen to look
like department data rather than to match a statistic.
"""

from __future__ import annotations

import numpy as np

ROADS = tuple(
    "人民路 解放路 中山路 建设路 和平路 新华路 胜利路 文化路 光明路 朝阳路 青年路 长江路 黄河路 滨江路 "
    "工业路 学府路 幸福路 东风路 迎宾路 振兴路 团结路 劳动路 育才路 友谊路 健康路 北京路 南京路 "
    "环城东路 环城西路 府前街 新民街 兴隆街 花园路 体育路 车站路 城南大道 开发大道 科技大道".split()
)
TOWNS = tuple("城关 新安 永安 太平 长乐 东湖 石桥 白沙 清河 龙泉 高桥 柳林 马坊 河口 新集 双庙".split())
VILLAGES = tuple("李家 王庄 张湾 新村 前进 红旗 柳树 杨柳 东升 西河 南岗 北坡 大桥 小营 后寨 三里".split())
BRANDS = tuple(
    "恒达 鑫源 华晟 宏图 瑞丰 金桥 汇通 博远 天成 永盛 德润 嘉禾 启航 顺发 新锐 卓越 正信 万隆 "
    "福瑞 众鑫 海纳 远航 银河 星辰 盛世 祥和 同创 安泰 聚力 惠民 诚信 兴业 宏达 富源 隆昌 佳美".split()
)

#: Industry divisions (GB/T 4754) with weights, for enterprises, individual businesses and
#: cooperatives.
ENTERPRISE_INDUSTRIES = {
    "F51": 16, "F52": 10, "L72": 12, "M75": 7, "M74": 3, "I65": 7, "I64": 2, "C13": 1, "C14": 1,
    "C18": 1, "C26": 1, "C29": 1, "C33": 2, "C34": 2, "C35": 2, "C38": 2, "C39": 2, "E47": 3,
    "E48": 2, "E50": 4, "K70": 4, "G54": 3, "G58": 1, "G59": 1, "H61": 1, "H62": 2, "O80": 2,
    "R88": 1, "R90": 1, "A01": 1, "A05": 1, "N77": 1, "P83": 1, "Q84": 1, "L71": 1, "J69": 1,
}
INDIVIDUAL_INDUSTRIES = {
    "F52": 45, "H62": 20, "O80": 9, "O81": 6, "G54": 8, "H61": 3, "F51": 3, "R90": 2, "E50": 2,
    "C13": 1, "A01": 1,
}
COOPERATIVE_INDUSTRIES = {"A01": 60, "A03": 25, "A05": 10, "A02": 5}

#: A firm-name word and a business scope per industry section.
SECTION_WORDS = {
    "A": ("生态农业", "种植、养殖、农产品初加工及销售"),
    "C": ("制造", "产品生产、加工、销售；技术开发"),
    "E": ("建设工程", "房屋建筑工程、装饰装修工程施工"),
    "F": ("商贸", "日用百货、食品、五金交电销售"),
    "G": ("物流", "道路货物运输、仓储服务、货运代理"),
    "H": ("餐饮管理", "餐饮服务、住宿服务"),
    "I": ("信息技术", "软件开发、信息系统集成、技术服务"),
    "J": ("投资管理", "投资管理、资产管理"),
    "K": ("房地产开发", "房地产开发经营、物业管理"),
    "L": ("企业管理咨询", "企业管理咨询、商务信息咨询、会议展览服务"),
    "M": ("科技", "技术开发、技术咨询、技术转让、检验检测服务"),
    "N": ("环保科技", "环境治理、园林绿化工程"),
    "O": ("家政服务", "家政服务、洗染服务、日用品修理"),
    "P": ("教育咨询", "非学历教育培训、教育咨询"),
    "Q": ("健康管理", "健康咨询、医疗器械销售"),
    "R": ("文化传媒", "文化艺术交流、广告设计制作、娱乐服务"),
}
SHOP_WORDS = {
    "F52": ("便利店", "超市", "副食店", "五金店", "服装店"),
    "H62": ("面馆", "小吃店", "饭店", "火锅店", "早餐店"),
    "O80": ("理发店", "洗衣店", "家政服务部"),
    "O81": ("汽车修理部", "手机维修店", "家电维修部"),
    "G54": ("货运部", "运输队"),
    "H61": ("旅馆", "招待所"),
}
COOPERATIVE_WORDS = ("蔬菜", "水果", "茶叶", "生猪", "家禽", "中药材", "粮食", "食用菌")

#: Common underlying causes of death (ICD-10) with rough weights.
CAUSES_OF_DEATH = {
    "I63.9": 18, "I21.9": 14, "C34.9": 9, "J44.9": 9, "I10": 6, "C16.9": 4, "C22.0": 4, "E11.9": 3,
    "I61.9": 5, "C15.9": 2, "C18.9": 2, "N18.9": 2, "V89.2": 2, "G30.9": 2, "J18.9": 4, "I50.9": 3,
    "K74.6": 1, "X59": 1,
}

SOCIAL_TOPICS = ("书法家", "摄影家", "老年人体育", "个体劳动者", "慈善", "志愿者", "青年企业家", "餐饮行业",
                 "物流行业", "电子商务", "养老服务", "围棋")
PRIVATE_NONPROFITS = ("幼儿园", "培训学校", "养老院", "社会工作服务中心", "康复中心", "图书馆")


def weighted_codes(rng: np.random.Generator, table: dict[str, int], size: int) -> np.ndarray:
    """``size`` codes drawn from a ``code -> weight`` table."""
    codes = np.array(list(table), dtype=object)
    weights = np.array(list(table.values()), dtype=np.float64)
    return codes[rng.choice(len(codes), size=size, p=weights / weights.sum())]


def pick(rng: np.random.Generator, options: tuple[str, ...], size: int) -> np.ndarray:
    """``size`` uniform draws from ``options``, as an object array."""
    return np.array(options, dtype=object)[rng.integers(0, len(options), size)]
