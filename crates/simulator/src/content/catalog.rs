//! The product catalog and the local colour of generated rows: product names per
//! language (Japanese ones with Cp932-only characters), ASINs, SKUs, addresses, order
//! ids and currency decimals.

use super::SplitMix64;
use super::flat_file::push_digits;
use crate::marketplaces::{Language, Marketplace};

/// A catalog product; the same index gives the same product in every report of a marketplace.
pub(super) struct Product {
    pub(super) asin: String,
    pub(super) parent_asin: String,
    pub(super) sku: String,
    pub(super) name: String,
    /// Price in the currency's minor unit (yen for JPY).
    pub(super) price_minor: u64,
}

impl Product {
    pub(super) fn new(language: Language, catalog_seed: u64, index: u64) -> Self {
        let mut rng = SplitMix64::for_row(catalog_seed, index);
        let words = vocabulary(language);
        let name = format!(
            "{} {} {}",
            rng.pick(words.brands),
            rng.pick(words.items),
            rng.pick(words.variants)
        );
        let price_minor = match language {
            Language::Japanese => rng.between(3, 300) * 100 - 20,
            _ => rng.between(3, 300) * 100 - 1,
        };
        Self {
            asin: asin(catalog_seed, index),
            parent_asin: asin(catalog_seed, index / 4 + 1_000_000),
            sku: format!(
                "SIM-{:04X}-{:02}",
                (catalog_seed >> 48) as u16 ^ index as u16,
                index % 97
            ),
            name,
            price_minor,
        }
    }
}

fn asin(seed: u64, index: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = SplitMix64::for_row(seed ^ 0xA517, index);
    let mut asin = String::from("B0");
    for _ in 0..8 {
        asin.push(char::from(*rng.pick(ALPHABET)));
    }
    asin
}

struct Vocabulary {
    brands: &'static [&'static str],
    items: &'static [&'static str],
    variants: &'static [&'static str],
}

/// Product words per language. The Japanese words deliberately use characters that
/// exist only in Cp932's NEC/IBM extensions (①, ㈱, Ⅲ, 髙, 﨑) and the full-width tilde
/// (～, U+FF5E, which Cp932 uses where JIS has the wave dash), so a client decoding
/// with plain Shift_JIS or EUC-JP gets them wrong.
fn vocabulary(language: Language) -> Vocabulary {
    match language {
        Language::Japanese => Vocabulary {
            brands: &[
                "髙島屋セレクト",
                "山﨑工房",
                "㈱ナチュラルライフ",
                "トーキョーデザイン",
                "匠の技",
            ],
            items: &[
                "今治タオル バスタオル",
                "ステンレス水筒 500ml～750ml",
                "ナンバー付き収納ボックス",
                "竹製まな板 大判",
                "ワイヤレスイヤホン ～ノイズキャンセリング～",
                "緑茶ティーバッグ 50包",
                "ＬＥＤデスクライト 調光式",
                "折りたたみ傘 晴雨兼用",
            ],
            variants: &["①ホワイト", "②ブラック", "③ネイビー", "Ⅲ型", "お徳用 ×2"],
        },
        Language::German => Vocabulary {
            brands: &["Müller & Söhne", "Nordlicht", "Bergström", "Grünwald"],
            items: &[
                "Edelstahl-Trinkflasche 750 ml",
                "Bambus-Schneidebrett",
                "Kabellose Ohrhörer",
                "LED-Schreibtischlampe dimmbar",
                "Baumwoll-Badetücher",
                "Küchenwaage digital",
            ],
            variants: &["Weiß", "Schwarz", "Größe L", "2er-Pack"],
        },
        Language::French => Vocabulary {
            brands: &["Maison Léa", "Côté Sud", "Atelier Étoile"],
            items: &[
                "Gourde en acier inoxydable 750 ml",
                "Planche à découper en bambou",
                "Écouteurs sans fil",
                "Lampe de bureau LED",
                "Serviettes de bain en coton",
            ],
            variants: &["Noir", "Blanc", "Bleu marine", "Lot de 2"],
        },
        Language::Spanish => Vocabulary {
            brands: &["Hogar Niño", "Montaña Azul", "Casa Peña"],
            items: &[
                "Botella de agua de acero inoxidable",
                "Tabla de cortar de bambú",
                "Auriculares inalámbricos",
                "Lámpara de escritorio LED",
                "Toallas de baño de algodón",
            ],
            variants: &["Negro", "Blanco", "Azul", "Paquete de 2"],
        },
        Language::English => Vocabulary {
            brands: &["Acme", "Northwind", "Contoso", "Fabrikam", "Blue Ridge"],
            items: &[
                "Stainless Steel Water Bottle 750ml",
                "Bamboo Cutting Board",
                "Wireless Earbuds",
                "LED Desk Lamp, Dimmable",
                "Cotton Bath Towel Set",
                "Yoga Mat 6mm",
                "Ceramic Coffee Mug 350ml",
                "USB-C Charging Cable 2m",
            ],
            variants: &["Black", "White", "Navy", "Pack of 2", "Large"],
        },
    }
}

pub(super) struct Address {
    pub(super) city: &'static str,
    pub(super) state: &'static str,
    pub(super) postal_code: &'static str,
}

pub(super) fn address(language: Language, rng: &mut SplitMix64) -> Address {
    let options: &[(&str, &str, &str)] = match language {
        Language::Japanese => &[
            ("千代田区", "東京都", "100-0001"),
            ("大阪市北区", "大阪府", "530-0001"),
            ("札幌市中央区", "北海道", "060-0001"),
            ("福岡市博多区", "福岡県", "812-0011"),
        ],
        Language::German => &[
            ("München", "Bayern", "80331"),
            ("Köln", "NRW", "50667"),
            ("Berlin", "Berlin", "10115"),
        ],
        Language::French => &[
            ("Paris", "Île-de-France", "75001"),
            ("Lyon", "Rhône", "69001"),
        ],
        Language::Spanish => &[
            ("Madrid", "Madrid", "28001"),
            ("Málaga", "Andalucía", "29001"),
        ],
        Language::English => &[
            ("Seattle", "WA", "98109"),
            ("Austin", "TX", "78701"),
            ("Brooklyn", "NY", "11201"),
            ("Denver", "CO", "80202"),
        ],
    };
    let (city, state, postal_code) = *rng.pick(options);
    Address {
        city,
        state,
        postal_code,
    }
}

pub(super) fn order_id(market: &Marketplace, rng: &mut SplitMix64) -> String {
    let prefix = match market.region {
        "na" => rng.between(111, 114),
        "eu" => rng.between(302, 306),
        _ => 503,
    };
    let mut id = String::with_capacity(19);
    push_digits(&mut id, prefix, 3);
    id.push('-');
    push_digits(&mut id, rng.below(10_000_000), 7);
    id.push('-');
    push_digits(&mut id, rng.below(10_000_000), 7);
    id
}

pub(super) fn listing_id(rng: &mut SplitMix64) -> String {
    format!(
        "{:04}{}{:05}",
        rng.between(1000, 9999),
        char::from(b'A' + rng.below(26) as u8),
        rng.below(100_000)
    )
}

pub(super) fn fnsku(rng: &mut SplitMix64) -> String {
    format!("X00{:07X}", rng.below(0x1000_0000))
}

pub(super) fn decimals(currency: &str) -> u32 {
    if currency == "JPY" { 0 } else { 2 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::decode;
    use crate::scenario::Charset;

    #[test]
    fn every_japanese_word_has_a_cp932_code() {
        let words = vocabulary(Language::Japanese);
        for word in words.brands.iter().chain(words.items).chain(words.variants) {
            let (encoded, _, had_errors) = encoding_rs::SHIFT_JIS.encode(word);
            assert!(!had_errors, "{word}");
            assert_eq!(decode(Charset::Cp932, &encoded), *word);
        }
    }
}
