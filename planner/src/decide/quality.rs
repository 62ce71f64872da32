//! Packing quality over 1,000 seeded random workloads: instances planned ÷ the lower bound
//! ⌈Σ demand ÷ instance size⌉ (the larger of CPU and memory). Deterministic, not timed.

use shared::resources::Resources;

use super::packing::{Item, ItemKind, Packer};

/// SplitMix64: a tiny seeded generator, so the workloads never change.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

/// Instance size: an m5.2xlarge as ECS registers it.
const INSTANCE: Resources = Resources::new(8192, 31_482);

/// A task size as services declare them: CPU 256–2048 (small ones more common), memory
/// 2–8 MiB per CPU unit (at most 8 GiB) in steps of 512 MiB (the Fargate-style combinations most task
/// definitions copy).
fn task_size(rng: &mut Rng) -> Resources {
    let cpu = rng.pick(&[256, 256, 256, 512, 512, 512, 1024, 1024, 2048]);
    let (lo, hi) = (cpu * 2 / 512, (cpu * 8).min(8192) / 512);
    let memory = 512 * (lo + u32::try_from(rng.below(u64::from(hi - lo + 1))).unwrap_or(0));
    Resources::new(cpu, memory.max(512))
}

/// One cluster's worth of tasks: 5–40 services of 1–60 tasks each. Returns (instances
/// planned, lower bound).
fn workload(seed: u64) -> (u32, u32) {
    let mut rng = Rng(seed);
    let mut packer = Packer {
        bins: Vec::new(),
        items: Vec::new(),
        new_size: Some(INSTANCE),
        new_limit: u32::MAX,
        new_opened: 0,
        needs: Vec::new(),
        new_instance: Default::default(),
        eni_limit: None,
    };
    let mut indices = Vec::new();
    let (mut cpu, mut mem) = (0u64, 0u64);
    for service in 0..(5 + rng.below(36)) {
        let size = task_size(&mut rng);
        for _ in 0..(1 + rng.below(60)) {
            cpu += u64::from(size.cpu);
            mem += u64::from(size.memory);
            indices.push(packer.add(Item {
                size,
                service: service as u32,
                distinct: false,
                origin: None,
                kind: ItemKind::Task,
            }));
        }
    }
    let left = packer.place(&indices, |_| true, true);
    assert!(left.is_empty(), "seed {seed}: every task fits an instance");
    let bound = cpu
        .div_ceil(u64::from(INSTANCE.cpu))
        .max(mem.div_ceil(u64::from(INSTANCE.memory)));
    (packer.new_opened, u32::try_from(bound).unwrap_or(u32::MAX))
}

#[test]
fn packing_quality_over_1000_seeded_workloads() {
    let mut ratios: Vec<f64> = (0..1000u64)
        .map(|seed| {
            let (planned, bound) = workload(seed);
            f64::from(planned) / f64::from(bound.max(1))
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let worst = ratios[ratios.len() - 1];
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    println!("packing quality: median {median:.4}, mean {mean:.4}, worst {worst:.4}");
    assert!(median <= 1.03, "median {median}");
    assert!(worst <= 1.10, "worst {worst}");
}

/// The same generator on seeds the packing weights were never chosen on: the median holds
/// there too. (The worst case does not everywhere: on seeds 1000–1999 three workloads need
/// more than 1.10 × the lower bound — 7/6 twice and 19/17 — where the bound may not be
/// reachable at all; see the issue notes.)
#[test]
fn packing_quality_holds_on_held_out_seeds() {
    for range in [1000u64..2000, 50_000..51_000] {
        let start = range.start;
        let mut ratios: Vec<f64> = range
            .map(|seed| {
                let (planned, bound) = workload(seed);
                f64::from(planned) / f64::from(bound.max(1))
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        let worst = ratios[ratios.len() - 1];
        println!("held-out seeds from {start}: median {median:.4}, worst {worst:.4}");
        assert!(median <= 1.03, "seeds from {start}: median {median}");
        assert!(worst <= 1.20, "seeds from {start}: worst {worst}");
    }
}
