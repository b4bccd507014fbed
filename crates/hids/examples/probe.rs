//! Run one line through a ruleset and print what the engine saw (development aid).
use picket_hids::{load_ruleset, Input};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (rs, report) = load_ruleset(&[args[1].clone().into()]).expect("load");
    let mut s = rs.session();
    let o = s.process(Input {
        line: &args[2],
        location: "stdin",
        agent: "000",
        default_hostname: "h",
        time: picket_event::Timestamp::now(),
    });
    println!("{o:#?}");
    if args.len() > 3 {
        let want: u32 = args[3].parse().expect("rule id");
        for &root in &rs.rules.roots {
            for (pos, &c) in rs.rules.nodes[root].children.iter().enumerate() {
                let r = &rs.rules.rules[rs.rules.nodes[c].rule];
                if r.id == want || pos < 3 {
                    println!(
                        "root {} child #{pos}: {} prio {}",
                        rs.rules.rules[rs.rules.nodes[root].rule].id, r.id, r.priority
                    );
                }
            }
        }
        println!(
            "{}",
            report
                .describe()
                .lines()
                .take(40)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
