//! Realistic Chinese sample tickets for the demo data and the benchmark:
//! valid phone and ID-card numbers, plausible titles and descriptions per
//! type. Deterministic (a seeded xorshift), so runs are comparable.

use kefu_domain::intake::{ConsentInput, CustomerInput, IntakeRequest};
use kefu_domain::validate::id_check_char;

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗",
    "高",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
    "秀兰", "霞", "建国", "海燕", "志强", "晓东",
];
const DISTRICTS: &[(&str, &str)] = &[
    ("440304", "广东省深圳市福田区"),
    ("440106", "广东省广州市天河区"),
    ("310115", "上海市浦东新区"),
    ("110105", "北京市朝阳区"),
    ("330106", "浙江省杭州市西湖区"),
    ("510107", "四川省成都市武侯区"),
    ("420106", "湖北省武汉市武昌区"),
    ("320106", "江苏省南京市鼓楼区"),
];
const STREETS: &[&str] = &["建设路", "人民路", "解放大道", "中山路", "科技园南路", "滨江大道", "文化路", "友谊路"];
pub const CHANNELS: &[&str] =
    &["phone", "web", "app", "wechat", "sms", "email", "self_service", "store", "community", "onsite"];
const LEVELS: &[&str] = &["普通", "普通", "普通", "三星", "四星", "五星", "vip", "金卡"];

/// (type, title, description) templates; `{addr}`, `{n}` and `{svc}` are filled in.
const TEMPLATES: &[(&str, &str, &str)] = &[
    ("fault", "宽带无法上网", "客户反映家中宽带自{n}天前起无法上网，光猫LOS灯红色闪烁，已重启光猫无效。地址：{addr}。"),
    ("fault", "手机信号差", "客户反映在{addr}室内手机信号只有一格，通话经常中断，4G/5G均受影响，已持续{n}天。"),
    ("fault", "IPTV 画面卡顿", "客户反映IPTV晚间观看时频繁卡顿、马赛克，宽带测速正常，机顶盒已重启。"),
    (
        "complaint",
        "对话费扣费有异议",
        "客户投诉本月话费比上月多扣{n}0元，称未订购任何增值业务，要求查明原因并退费。号码：{svc}。",
    ),
    (
        "complaint",
        "装维人员未按约上门",
        "客户投诉预约的宽带装机师傅未按约定时间上门，且未提前电话告知，客户请假等待{n}小时。",
    ),
    ("complaint", "营业厅服务态度差", "客户投诉在营业厅办理业务时工作人员态度冷淡，排队{n}0分钟无人引导。"),
    ("consultation", "咨询5G套餐资费", "客户咨询当前可办理的5G套餐资费及流量、通话时长，希望从现有{n}9元套餐升级。"),
    ("consultation", "咨询国际漫游开通", "客户下周出国，咨询国际漫游如何开通、资费标准及是否需要预存话费。"),
    ("consultation", "咨询携号转网流程", "客户咨询携号转网的办理条件、所需材料和办理时长。"),
    ("business", "办理套餐变更", "客户申请将套餐由{n}9元档变更为129元5G融合套餐，次月生效。号码：{svc}。"),
    ("business", "新装宽带申请", "客户申请在{addr}新装千兆宽带，希望周末上门安装。"),
    ("business", "办理停机保号", "客户因出国工作申请停机保号{n}个月。号码：{svc}。"),
    ("account", "查询账户余额及明细", "客户要求查询近{n}个月的账户余额变动及缴费明细。"),
    ("account", "账户欠费冻结解冻", "客户账户因欠费被冻结，已补缴欠费，要求尽快恢复服务。"),
    ("account", "申请销户", "客户申请注销名下宽带账户，要求结清余额并退还预存款。"),
    ("service_request", "申请宽带提速", "客户申请将宽带由300M提速至千兆，询问是否需要更换光猫。地址：{addr}。"),
    ("service_request", "服务建议：营业厅延长营业时间", "客户建议{addr}附近营业厅周末延长营业时间至晚上9点。"),
    ("unsubscribe", "退订视频彩铃业务", "客户要求退订视频彩铃业务（每月{n}元），称从未主动订购。号码：{svc}。"),
    ("unsubscribe", "退订流量加油包", "客户要求退订自动续订的流量加油包。号码：{svc}。"),
];

pub fn name(r: &mut Rng) -> String {
    format!("{}{}", r.pick(SURNAMES), r.pick(GIVEN))
}

pub fn mobile(r: &mut Rng) -> String {
    let prefix = r.pick(&["133", "135", "138", "139", "150", "153", "177", "180", "186", "189", "199"]);
    format!("{prefix}{:08}", r.next() % 100_000_000)
}

pub fn id_number(r: &mut Rng, region: &str) -> String {
    let year = 1950 + r.below(55);
    let month = 1 + r.below(12);
    let day = 1 + r.below(28);
    let first17 = format!("{region}{year:04}{month:02}{day:02}{:03}", r.below(1000));
    let check = id_check_char(first17.as_bytes()) as char;
    format!("{first17}{check}")
}

/// A ticket request of the given index, as an agent would enter it.
pub fn intake(r: &mut Rng) -> IntakeRequest {
    let (ticket_type, title, desc) = *r.pick(TEMPLATES);
    let (region, district) = *r.pick(DISTRICTS);
    let addr = format!("{district}{}{}号", r.pick(STREETS), 1 + r.below(300));
    let phone = mobile(r);
    let n = (1 + r.below(9)).to_string();
    let description = desc.replace("{addr}", &addr).replace("{n}", &n).replace("{svc}", &phone);
    let with_id = r.below(3) == 0;
    let consent = (ticket_type == "unsubscribe").then(|| ConsentInput {
        method: Some(r.pick(&["phone", "online", "written"]).to_string()),
        at: Some("2026-11-01T02:00:00Z".into()),
        evidence: Some(format!("录音编号 REC{:08}", r.next() % 100_000_000)),
    });
    IntakeRequest {
        channel: Some(r.pick(CHANNELS).to_string()),
        ticket_type: Some(ticket_type.into()),
        title: Some(title.into()),
        description: Some(description),
        customer: Some(CustomerInput {
            name: Some(name(r)),
            phone: Some(phone.clone()),
            id_number: with_id.then(|| id_number(r, region)),
            address: Some(addr),
            level: Some(r.pick(LEVELS).to_string()),
        }),
        service_number: Some(phone),
        priority: None,
        occurred_at: None,
        location: None,
        consent,
        submitted_by: None,
        business_line: Some(r.pick(&["宽带", "移动", "固话", "IPTV"]).to_string()),
        store: None,
        order: None,
    }
}

/// The JSON body of `POST /api/v1/tickets` for a sample request.
pub fn intake_json(r: &mut Rng) -> serde_json::Value {
    let i = intake(r);
    let c = i.customer.unwrap_or_default();
    let mut v = serde_json::json!({
        "channel": i.channel, "type": i.ticket_type, "title": i.title, "description": i.description,
        "customer": {"name": c.name, "phone": c.phone, "id_number": c.id_number, "address": c.address, "level": c.level},
        "service_number": i.service_number,
    });
    if let Some(k) = i.consent {
        v["consent"] = serde_json::json!({"method": k.method, "at": k.at, "evidence": k.evidence});
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_domain::policy::Policy;

    #[test]
    fn samples_are_valid_requests() {
        let mut r = Rng::new(7);
        let policy = Policy::defaults();
        for _ in 0..500 {
            let req = intake(&mut r);
            req.parse(&policy.priority).unwrap();
        }
    }
}
