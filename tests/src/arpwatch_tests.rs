use super::*;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 5, 0, 50);
const ME: Mac = [2, 0, 0, 0, 0, 1];
const NODE: Mac = [2, 0, 10, 5, 0, 11];

/// The reply `from` sends to a request.
fn reply(req: &[u8; 42], from: Mac) -> [u8; 42] {
    let mut r = *req;
    r[..6].copy_from_slice(&req[6..12]);
    r[6..12].copy_from_slice(&from);
    r[21] = 2;
    r[22..28].copy_from_slice(&from);
    r[28..32].copy_from_slice(&VIP.octets());
    r[32..38].copy_from_slice(&req[22..28]);
    r[38..42].copy_from_slice(&req[28..32]);
    r
}

#[test]
fn a_reply_names_the_request_it_answers() {
    let req = request(ME, round_ip(7), VIP);
    assert_eq!(said(&req, VIP), None, "our own request says nothing");
    assert_eq!(said(&reply(&req, NODE), VIP), Some(Said::Answer(7, NODE)));
    let late = request(ME, round_ip(ROUNDS + 3), VIP);
    assert_eq!(said(&reply(&late, NODE), VIP), Some(Said::Answer(3, NODE)));
    // A reply to someone else's request (not from the range) is not ours.
    let other = request(ME, Ipv4Addr::new(10, 5, 0, 1), VIP);
    assert_eq!(said(&reply(&other, NODE), VIP), None);
    // A gratuitous ARP (request for itself) is an announcement.
    let mut garp = request(NODE, VIP, VIP);
    assert_eq!(said(&garp, VIP), Some(Said::Announce(NODE)));
    garp[12] = 0x08;
    garp[13] = 0x00;
    assert_eq!(said(&garp, VIP), None, "not ARP");
    assert_eq!(said(&garp[..30], VIP), None, "a runt");
    assert_eq!(mac("02:00:0a:05:00:0b"), Some([2, 0, 10, 5, 0, 11]));
    assert_eq!(mac("02:00:0a"), None);
}

#[test]
fn holding_starts_at_the_first_answer_and_ends_after_two_silent_rounds() {
    let t = Instant::now();
    let ms = Duration::from_millis;
    let r = |sent: u64, who: &[Mac]| Round {
        sent: t + ms(sent),
        answers: who.iter().map(|m| (*m, t + ms(sent + 1))).collect(),
    };
    let other = [2, 0, 10, 5, 0, 12];
    let rounds = vec![
        r(0, &[NODE]),
        r(10, &[]),
        r(20, &[NODE]),
        r(30, &[]),
        r(40, &[other]),
        r(50, &[other]),
    ];
    assert_eq!(
        changes(&rounds, &[NODE, other]),
        vec![
            (t + ms(1), 0, true),
            (t + ms(30), 0, false),
            (t + ms(41), 1, true)
        ]
    );
}
