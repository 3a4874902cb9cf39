//! Poseidon parameters from the reference Grain LFSR generator
//! (`generate_parameters_grain.sage` of the Poseidon authors' `hadeshash`
//! repository), computed once per width and cached.

use std::sync::OnceLock;

use ff::Field;

use crate::field::Fr;

/// Bit length of the field (`n` in the reference generator).
const FIELD_BITS: usize = 255;

/// The two Poseidon instances used by copro.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Width {
    /// t = 3 (rate 2, capacity 1), R_F = 8, R_P = 57.
    T3,
    /// t = 5 (rate 4, capacity 1), R_F = 8, R_P = 60.
    T5,
}

impl Width {
    /// Number of lanes `t`.
    pub const fn t(self) -> usize {
        match self {
            Width::T3 => 3,
            Width::T5 => 5,
        }
    }

    /// Number of partial rounds.
    pub const fn partial_rounds(self) -> usize {
        match self {
            Width::T3 => 57,
            Width::T5 => 60,
        }
    }

    /// The width for `t` lanes, if supported.
    pub const fn from_t(t: usize) -> Option<Width> {
        match t {
            3 => Some(Width::T3),
            5 => Some(Width::T5),
            _ => None,
        }
    }
}

/// Number of full rounds (both widths).
pub const FULL_ROUNDS: usize = 8;

/// Round constants, MDS matrix and precomputed partial-round tables of one
/// Poseidon instance.
#[derive(Debug)]
pub struct PoseidonParams {
    /// Number of lanes.
    pub t: usize,
    /// Number of full rounds.
    pub full_rounds: usize,
    /// Number of partial rounds.
    pub partial_rounds: usize,
    /// Round constants, `round * t + lane`.
    pub round_constants: Vec<Fr>,
    /// MDS matrix, row-major: `mds[i][j]`.
    pub mds: Vec<Vec<Fr>>,
    /// For the gadget: lane 0 before the S-box of partial round `r`, as an affine
    /// function of the basis `[s_0..s_{t-1}, y_0..y_{r-1}]` (the state entering
    /// the partial rounds and the earlier partial S-box outputs); the last entry
    /// of each row is the constant term. Row `r` has `t + r + 1` entries.
    pub partial_rows: Vec<Vec<Fr>>,
    /// For the gadget: every lane after the last partial round, over the basis
    /// `[s_0..s_{t-1}, y_0..y_{R_P-1}]` plus a constant term.
    pub partial_out: Vec<Vec<Fr>>,
}

/// The cached parameters of `width`.
pub fn params(width: Width) -> &'static PoseidonParams {
    static T3: OnceLock<PoseidonParams> = OnceLock::new();
    static T5: OnceLock<PoseidonParams> = OnceLock::new();
    match width {
        Width::T3 => T3.get_or_init(|| generate(3, FULL_ROUNDS, Width::T3.partial_rounds())),
        Width::T5 => T5.get_or_init(|| generate(5, FULL_ROUNDS, Width::T5.partial_rounds())),
    }
}

/// The Grain LFSR in self-shrinking mode, as in the reference generator.
struct Grain {
    state: [bool; 80],
    /// Index of the oldest bit (ring buffer).
    head: usize,
}

impl Grain {
    fn new(t: usize, full_rounds: usize, partial_rounds: usize) -> Grain {
        let mut bits = Vec::with_capacity(80);
        let mut push = |value: u64, width: usize| {
            for i in (0..width).rev() {
                bits.push((value >> i) & 1 == 1);
            }
        };
        push(1, 2); // field type: GF(p)
        push(0, 4); // S-box type: x^alpha
        push(FIELD_BITS as u64, 12);
        push(t as u64, 12);
        push(full_rounds as u64, 10);
        push(partial_rounds as u64, 10);
        push((1u64 << 30) - 1, 30);
        let mut state = [false; 80];
        state.copy_from_slice(&bits);
        let mut g = Grain { state, head: 0 };
        for _ in 0..160 {
            g.clock();
        }
        g
    }

    /// One LFSR step: the new bit is the XOR of taps 62, 51, 38, 23, 13, 0.
    fn clock(&mut self) -> bool {
        let at = |i: usize| self.state[(self.head + i) % 80];
        let new = at(62) ^ at(51) ^ at(38) ^ at(23) ^ at(13) ^ at(0);
        self.state[self.head] = new;
        self.head = (self.head + 1) % 80;
        new
    }

    /// Self-shrinking output: pairs (a, b); output b when a is 1.
    fn next_bit(&mut self) -> bool {
        loop {
            let a = self.clock();
            let b = self.clock();
            if a {
                return b;
            }
        }
    }

    /// `n` output bits, most significant first, as 32 big-endian bytes.
    fn next_be_bytes(&mut self, n: usize) -> [u8; 32] {
        let mut be = [0u8; 32];
        for i in 0..n {
            if self.next_bit() {
                let pos = n - 1 - i; // bit position from the least significant end
                be[31 - pos / 8] |= 1 << (pos % 8);
            }
        }
        be
    }

    /// A field element by rejection sampling (draw again while `>= p`).
    fn next_field_rejecting(&mut self) -> Fr {
        loop {
            let be = self.next_be_bytes(FIELD_BITS);
            if let Some(x) = crate::field::fr_from_be_bytes(&be) {
                return x;
            }
        }
    }

    /// A field element reduced modulo p (used for the MDS candidates).
    fn next_field_reduced(&mut self) -> Fr {
        let be = self.next_be_bytes(FIELD_BITS);
        let mut wide = [0u8; 64];
        for (i, b) in be.iter().rev().enumerate() {
            wide[i] = *b;
        }
        Fr::from_bytes_wide(&wide)
    }
}

fn generate(t: usize, full_rounds: usize, partial_rounds: usize) -> PoseidonParams {
    let mut grain = Grain::new(t, full_rounds, partial_rounds);
    let rounds = full_rounds + partial_rounds;
    let round_constants: Vec<Fr> = (0..rounds * t)
        .map(|_| grain.next_field_rejecting())
        .collect();
    let mds = loop {
        let draws: Vec<Fr> = (0..2 * t).map(|_| grain.next_field_reduced()).collect();
        let distinct = draws
            .iter()
            .enumerate()
            .all(|(i, a)| draws[i + 1..].iter().all(|b| a != b));
        if !distinct {
            continue;
        }
        let (xs, ys) = draws.split_at(t);
        let mut m = vec![vec![Fr::ZERO; t]; t];
        let mut ok = true;
        for i in 0..t {
            for j in 0..t {
                match Option::<Fr>::from((xs[i] + ys[j]).invert()) {
                    Some(inv) => m[i][j] = inv,
                    None => ok = false,
                }
            }
        }
        if ok {
            break m;
        }
    };
    let (partial_rows, partial_out) =
        partial_tables(t, full_rounds, partial_rounds, &round_constants, &mds);
    PoseidonParams {
        t,
        full_rounds,
        partial_rounds,
        round_constants,
        mds,
        partial_rows,
        partial_out,
    }
}

/// Symbolically runs the partial rounds over the basis
/// `[s_0..s_{t-1}, y_0..y_{R_P-1}, 1]` (see [`PoseidonParams::partial_rows`]).
fn partial_tables(
    t: usize,
    full_rounds: usize,
    partial_rounds: usize,
    rc: &[Fr],
    mds: &[Vec<Fr>],
) -> (Vec<Vec<Fr>>, Vec<Vec<Fr>>) {
    let dim = t + partial_rounds + 1;
    let konst = dim - 1;
    let mut lanes: Vec<Vec<Fr>> = (0..t)
        .map(|i| {
            let mut v = vec![Fr::ZERO; dim];
            v[i] = Fr::ONE;
            v
        })
        .collect();
    let mut rows = Vec::with_capacity(partial_rounds);
    let first = full_rounds / 2;
    for r in 0..partial_rounds {
        let round = first + r;
        for (i, lane) in lanes.iter_mut().enumerate() {
            lane[konst] += rc[round * t + i];
        }
        let mut row: Vec<Fr> = lanes[0][..t + r].to_vec();
        row.push(lanes[0][konst]);
        rows.push(row);
        let mut y = vec![Fr::ZERO; dim];
        y[t + r] = Fr::ONE;
        lanes[0] = y;
        let mut next = vec![vec![Fr::ZERO; dim]; t];
        for (i, out) in next.iter_mut().enumerate() {
            for (j, lane) in lanes.iter().enumerate() {
                let c = mds[i][j];
                for (o, l) in out.iter_mut().zip(lane.iter()) {
                    if !bool::from(l.is_zero()) {
                        *o += c * l;
                    }
                }
            }
        }
        lanes = next;
    }
    (rows, lanes)
}
