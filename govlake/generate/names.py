"""Chinese personal names: surnames by frequency, given names by sex, and minority names.

Han names are a surname (about 100 common ones with rough frequencies, plus compound
surnames such as 欧阳 and 司马) and a given name of one or two characters. Uyghur,
Kazakh and Kyrgyz names are written ``given·father's name``; Tibetan names have no
surname. Every character is in GBK, because the hukou export is GBK.

:func:`name_variant` makes the misspellings other departments write: a homophone or
look-alike for one character (王伟 → 王玮), which is how the same person ends up with two
names in two systems.
"""

from __future__ import annotations

import numpy as np

#: Surname, rough share of the population in percent (public-security name statistics).
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 4.6), ("杨", 3.1), ("黄", 2.2),
    ("赵", 2.0), ("吴", 1.9), ("周", 1.9), ("徐", 1.4), ("孙", 1.4), ("马", 1.3), ("朱", 1.3),
    ("胡", 1.1), ("郭", 1.1), ("何", 1.0), ("林", 1.0), ("罗", 0.9), ("高", 0.9), ("郑", 0.8),
    ("梁", 0.8), ("谢", 0.7), ("宋", 0.6), ("唐", 0.6), ("许", 0.6), ("韩", 0.5), ("冯", 0.5),
    ("邓", 0.5), ("曹", 0.5), ("彭", 0.5), ("曾", 0.5), ("肖", 0.5), ("田", 0.4), ("董", 0.4),
    ("潘", 0.4), ("袁", 0.4), ("蔡", 0.4), ("蒋", 0.4), ("余", 0.4), ("于", 0.4), ("杜", 0.4),
    ("叶", 0.4), ("程", 0.4), ("魏", 0.3), ("苏", 0.3), ("吕", 0.3), ("丁", 0.3), ("任", 0.3),
    ("卢", 0.3), ("姚", 0.3), ("沈", 0.3), ("钟", 0.3), ("姜", 0.3), ("崔", 0.3), ("谭", 0.3),
    ("陆", 0.3), ("范", 0.2), ("汪", 0.2), ("廖", 0.2), ("石", 0.2), ("金", 0.2), ("韦", 0.2),
    ("贾", 0.2), ("夏", 0.2), ("付", 0.2), ("方", 0.2), ("邹", 0.2), ("熊", 0.2), ("白", 0.2),
    ("孟", 0.2), ("秦", 0.2), ("邱", 0.2), ("侯", 0.2), ("江", 0.2), ("尹", 0.2), ("薛", 0.2),
    ("闫", 0.2), ("段", 0.2), ("雷", 0.2), ("龙", 0.15), ("黎", 0.15), ("史", 0.15), ("陶", 0.15),
    ("贺", 0.15), ("毛", 0.15), ("郝", 0.15), ("顾", 0.15), ("龚", 0.15), ("邵", 0.15), ("万", 0.15),
    ("覃", 0.1), ("武", 0.1), ("钱", 0.1), ("戴", 0.1), ("严", 0.1), ("莫", 0.1), ("孔", 0.1),
    ("向", 0.1), ("常", 0.1), ("欧阳", 0.03), ("司马", 0.01), ("上官", 0.01), ("诸葛", 0.005),
)
MALE_GIVEN = tuple("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林阳建国峰亮成东文博志海晨轩子睿泽宏家天一")
FEMALE_GIVEN = tuple("芳娜敏静丽艳娟霞燕玲婷雪慧琳倩颖洁梅莉兰红萍秀英佳欣怡涵雨萱思梓晶月悦琪瑶蕾")
#: Uyghur / Kazakh / Kyrgyz personal names, used as ``own·father's``.
TURKIC_MALE = ("买买提", "艾力", "阿不都", "吐尔逊", "努尔", "艾买提", "玉素甫", "热合曼", "阿迪力", "依明")
TURKIC_FEMALE = ("阿依古丽", "古丽", "热依拉", "帕提曼", "迪丽拜尔", "阿依努尔", "祖丽", "米娜瓦尔")
TIBETAN_MALE = ("扎西顿珠", "次仁多吉", "丹增", "格桑", "洛桑", "平措", "旺堆", "尼玛次仁")
TIBETAN_FEMALE = ("卓玛", "央金", "次仁卓玛", "德吉", "拉姆", "格桑梅朵", "白玛", "曲珍")
#: Name styles, chosen from the ethnicity (GB/T 3304 codes).
STYLE_HAN, STYLE_TURKIC, STYLE_TIBETAN = 0, 1, 2
TURKIC_ETHNICITIES = ("05", "17", "29")
TIBETAN_ETHNICITIES = ("04",)

#: Homophones and look-alikes that data-entry clerks type instead (both directions).
_HOMOPHONE_PAIRS = (
    "伟玮 强蔷 磊垒 军君 勇永 杰洁 涛滔 斌彬 超潮 明铭 刚钢 平萍 辉晖 鹏朋 华桦 飞菲 鑫欣 波博 "
    "宇雨 浩皓 凯恺 健建 俊骏 帆凡 旭煦 宁凝 龙隆 林琳 阳洋 国帼 峰锋 亮靓 成诚 东冬 文雯 志智 "
    "海嗨 晨辰 轩萱 子梓 睿锐 泽则 宏红 家佳 天添 一依 芳方 娜那 敏闵 静婧 丽莉 艳燕 娟鹃 霞夏 "
    "玲龄 婷亭 雪薛 慧惠 倩茜 颖莹 梅玫 兰岚 秀绣 英瑛 怡宜 涵寒 思斯 晶菁 月玥 悦越 琪琦 瑶遥 "
    "蕾雷 买卖 提题 艾爱 力立 都督 尔儿 逊迅 努奴 素苏 甫浦 热惹 曼蔓 迪笛 依衣 古谷 拉啦 帕怕 "
    "拜败 祖组 米咪 瓦娃 扎札 西希 顿敦 珠朱 次此 仁任 多朵 吉集 增曾 格歌 桑嗓 洛落 措错 旺汪 "
    "堆对 尼妮 玛马 卓桌 央殃 金今 德得 姆母 朵躲 白柏 曲区 珍真 欢焕 "
    # characters of firm names (brands and trades), for misspelt organisation names
    "恒衡 达答 源原 晟胜 图涂 瑞锐 丰风 桥乔 汇会 通同 远园 禾和 航杭 顺舜 发法 越月 正政 隆龙 昌常 "
    "福富 众重 纳那 银音 世市 祥翔 创闯 泰太 聚巨 民敏 兴星 商尚 贸茂 技计 管馆 咨资 询讯 科棵 "
    "制治 造灶 物务 流留 餐参 饮引 设社 建健 工功 程成 开凯 境静 保宝 环还 传船 媒煤 业叶 企启 "
    "书舒 摄射 影应 老劳 体题 育玉 慈磁 善扇 愿原 围维 棋旗 养样 培陪 训讯 康糠 复付 心新 幼右 "
    "店电 馆管 理里 蔬疏 菜采 茶查 叶页 猪朱 禽琴 药要 粮良 菌君"
)
HOMOPHONES: dict[str, str] = {}
for _pair in _HOMOPHONE_PAIRS.split():
    HOMOPHONES.setdefault(_pair[0], _pair[1])
    HOMOPHONES.setdefault(_pair[1], _pair[0])


def surname_table() -> tuple[np.ndarray, np.ndarray]:
    """Surnames and their probabilities."""
    names = np.array([s for s, _ in SURNAMES], dtype=object)
    weights = np.array([w for _, w in SURNAMES], dtype=np.float64)
    return names, weights / weights.sum()


def given_names(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    """One- or two-character given names (about 30% single), drawn by sex."""
    n = len(male)
    male_chars = np.array(MALE_GIVEN, dtype=object)
    female_chars = np.array(FEMALE_GIVEN, dtype=object)
    first = np.where(male, male_chars[rng.integers(0, len(male_chars), n)],
                     female_chars[rng.integers(0, len(female_chars), n)])
    second = np.where(male, male_chars[rng.integers(0, len(male_chars), n)],
                      female_chars[rng.integers(0, len(female_chars), n)])
    single = rng.random(n) < 0.3
    return np.where(single, first, first + second)


def minority_names(rng: np.random.Generator, style: np.ndarray, male: np.ndarray) -> np.ndarray:
    """Full names for Turkic (``own·father``) and Tibetan styles; ``None`` for Han style."""
    n = len(style)
    out = np.full(n, None, dtype=object)
    turkic = np.flatnonzero(style == STYLE_TURKIC)
    if len(turkic):
        own_m = np.array(TURKIC_MALE, dtype=object)[rng.integers(0, len(TURKIC_MALE), len(turkic))]
        own_f = np.array(TURKIC_FEMALE, dtype=object)[rng.integers(0, len(TURKIC_FEMALE), len(turkic))]
        father = np.array(TURKIC_MALE, dtype=object)[rng.integers(0, len(TURKIC_MALE), len(turkic))]
        out[turkic] = np.where(male[turkic], own_m, own_f) + "·" + father
    tibetan = np.flatnonzero(style == STYLE_TIBETAN)
    if len(tibetan):
        own_m = np.array(TIBETAN_MALE, dtype=object)[rng.integers(0, len(TIBETAN_MALE), len(tibetan))]
        own_f = np.array(TIBETAN_FEMALE, dtype=object)[rng.integers(0, len(TIBETAN_FEMALE), len(tibetan))]
        out[tibetan] = np.where(male[tibetan], own_m, own_f)
    return out


def name_variant(name: str, rng: np.random.Generator) -> str:
    """The same person's name as another system spells it: one character swapped for a homophone.

    The swapped character is taken from the end of the name (given names vary, surnames
    rarely do); without a known homophone, two neighbouring characters trade places.
    Always differs from ``name``.
    """
    positions = [i for i in range(len(name) - 1, 0, -1) if name[i] in HOMOPHONES]
    if not positions:  # no known homophone: two neighbouring characters typed the other way round
        for i in range(len(name) - 1, 0, -1):
            if name[i] != name[i - 1] and "·" not in name[i - 1:i + 1]:
                return name[:i - 1] + name[i] + name[i - 1] + name[i + 1:]
        return name + "儿" if not name.endswith("儿") else name[:-1]
    i = positions[int(rng.integers(0, min(2, len(positions))))]
    return name[:i] + HOMOPHONES[name[i]] + name[i + 1:]
