//! nfdump file headers and data blocks: the container around the records.
//!
//! Read from nfdump's `nffileV2.h`, `nffile.h` and `nffile.c` (format only, no
//! code copied). All integers are in the writer's byte order; nfdump writes
//! host order, and every nfdump file in the wild is little-endian (the magic
//! then reads `0xA50C`), which is the only order read here.
//!
//! Layout 1 (nfdump 1.6, `LAYOUT_VERSION_1`):
//! ```text
//! file header (140 B): magic u16, version u16 = 1, flags u32 (compression bits),
//!                      NumBlocks u32, ident [128]
//! stat record (136 B)
//! data blocks: header (12 B: NumRecords u32, size u32, id u16 = 2, flags u16) + size bytes
//! ```
//! Layout 2 (nfdump 1.7, `LAYOUT_VERSION_2`):
//! ```text
//! file header (40 B): magic u16, version u16 = 2, nfdversion u32, created u64,
//!                     compression u8, encryption u8, appendixBlocks u16, creator u32,
//!                     offAppendix u64, BlockSize u32, NumBlocks u32
//! data blocks: header (12 B: NumRecords u32, size u32, type u16 = 3, flags u16) + size bytes
//! appendix blocks (ident and stat records) after the data blocks
//! ```
//! A block's payload is compressed as a whole with the file's codec unless
//! its flags say it is stored uncompressed. The reader walks blocks to the end
//! of the file (not `NumBlocks`, which an in-progress `nfcapd.current.*` file
//! has not written yet); appendix records are not flows and are ignored.
//!
//! Invariant: [`BlockReader::next_block`] never panics and never allocates
//! per block: the compressed and decompressed payloads live in two buffers
//! reused for the whole file, each at most [`MAX_BLOCK_BYTES`].

use std::io::{self, Read};

/// The magic number at the start of every nfdump file (little-endian order).
pub const MAGIC: u16 = 0xA50C;
/// nfdump 1.6 file layout.
pub const LAYOUT_VERSION_1: u16 = 1;
/// nfdump 1.7 file layout.
pub const LAYOUT_VERSION_2: u16 = 2;

/// Size of the layout-1 file header plus its stat record.
const V1_HEADER_BYTES: usize = 140 + 136;
/// Size of the layout-2 file header.
const V2_HEADER_BYTES: usize = 40;
/// Size of a data block header.
pub const BLOCK_HEADER_BYTES: usize = 12;

/// Largest block payload accepted, compressed or not: nfdump's own read
/// buffer (`BUFFSIZE`, 5 MiB, less the block header). nfdump refuses larger
/// blocks as corrupt, so no valid file has one, and it bounds the two
/// buffers a reader keeps.
pub const MAX_BLOCK_BYTES: usize = 5 * 1024 * 1024 - BLOCK_HEADER_BYTES;

/// Block compression codec of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Lzo,
    Bz2,
    Lz4,
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lzo => "LZO",
            Compression::Bz2 => "BZ2",
            Compression::Lz4 => "LZ4",
            Compression::Zstd => "ZSTD",
        }
    }
}

/// What the file header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// [`LAYOUT_VERSION_1`] or [`LAYOUT_VERSION_2`].
    pub layout: u16,
    pub compression: Compression,
    /// Data blocks the writer recorded (0 in a file still being written).
    pub num_blocks: u32,
}

/// Whether `head` starts like an nfdump file (magic and a known layout).
pub fn is_nfdump(head: &[u8]) -> bool {
    matches!(head, [0x0c, 0xa5, v, 0, ..] if u16::from(*v) == LAYOUT_VERSION_1 || u16::from(*v) == LAYOUT_VERSION_2)
}

/// A file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("not an nfdump file (magic {0:#06x}, expected 0xa50c)")]
    Magic(u16),
    #[error("big-endian nfdump file (magic 0x0ca5): not supported")]
    BigEndian,
    #[error("nfdump file layout version {0} not supported (1 and 2 are)")]
    Version(u16),
    #[error("nfdump file header truncated: {got} of {need} bytes")]
    Truncated { got: usize, need: usize },
    #[error("nfdump file compression {0} unknown (0-4 are LZO, BZ2, LZ4, ZSTD)")]
    Compression(u8),
    #[error("encrypted nfdump file (encryption {0}): not supported")]
    Encrypted(u8),
    #[error("cannot read the file header: {0}")]
    Io(#[from] io::Error),
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_le_bytes([x, y]),
        _ => 0,
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b2, c, d]) => u32::from_le_bytes([a, b2, c, d]),
        _ => 0,
    }
}

/// Reads up to `buf.len()` bytes; returns how many (fewer only at end of file).
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads and checks the file header, leaving `r` at the first data block.
pub fn read_header(r: &mut dyn Read) -> Result<(FileHeader, u64), HeaderError> {
    let mut head = [0u8; V1_HEADER_BYTES];
    let got = read_full(r, &mut head[..4])?;
    if got < 4 {
        return Err(HeaderError::Truncated { got, need: 4 });
    }
    let magic = u16_at(&head, 0);
    if magic == MAGIC.swap_bytes() {
        return Err(HeaderError::BigEndian);
    }
    if magic != MAGIC {
        return Err(HeaderError::Magic(magic));
    }
    let layout = u16_at(&head, 2);
    let need = match layout {
        LAYOUT_VERSION_1 => V1_HEADER_BYTES,
        LAYOUT_VERSION_2 => V2_HEADER_BYTES,
        v => return Err(HeaderError::Version(v)),
    };
    let got = 4 + read_full(r, &mut head[4..need])?;
    if got < need {
        return Err(HeaderError::Truncated { got, need });
    }
    let header = if layout == LAYOUT_VERSION_1 {
        // FILEV1_COMPRESSION: LZO, then BZ2, then LZ4 bit.
        let flags = u32_at(&head, 4);
        let compression = if flags & 0x1 != 0 {
            Compression::Lzo
        } else if flags & 0x8 != 0 {
            Compression::Bz2
        } else if flags & 0x10 != 0 {
            Compression::Lz4
        } else {
            Compression::None
        };
        FileHeader {
            layout,
            compression,
            num_blocks: u32_at(&head, 8),
        }
    } else {
        let compression = match head[16] {
            0 => Compression::None,
            1 => Compression::Lzo,
            2 => Compression::Bz2,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            c => return Err(HeaderError::Compression(c)),
        };
        if head[17] != 0 {
            return Err(HeaderError::Encrypted(head[17]));
        }
        FileHeader {
            layout,
            compression,
            num_blocks: u32_at(&head, 36),
        }
    };
    Ok((header, need as u64))
}

/// A data block header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    pub num_records: u32,
    /// Payload bytes as stored (compressed or not).
    pub size: u32,
    /// Block type: 2 (nfdump 1.6 records), 3 (nfdump 1.7 records), 4 (internal).
    pub kind: u16,
    pub flags: u16,
}

/// What [`BlockReader::next_block`] found.
#[derive(Debug)]
pub enum Next<'a> {
    /// A block with its payload, decompressed.
    Block(BlockHeader, &'a [u8]),
    /// A block that could not be used but whose length was sound: the
    /// reader is positioned at the next block.
    Bad(BlockHeader, String),
    /// The rest of the file cannot be read (a block header with an
    /// impossible length, or a file cut inside a block); the reason says how
    /// many bytes were left.
    Fatal(String),
    /// Clean end of file.
    End,
}

/// Walks the data blocks of a file, decompressing each into a reused buffer.
pub struct BlockReader {
    raw: Vec<u8>,
    dec: Decompressor,
    /// File offset of the next block header.
    pub offset: u64,
    /// 1-based number of the last block returned.
    pub block_no: u64,
}

/// A block as stored in the file (payload not yet decompressed), from
/// [`BlockReader::next_stored`]: for decompressing on another thread with a
/// [`Decompressor`].
#[derive(Debug)]
pub struct StoredBlock {
    pub header: BlockHeader,
    /// 1-based block number and file offset of its header (for diagnostics).
    pub block_no: u64,
    pub offset: u64,
}

/// What [`BlockReader::next_stored`] found.
#[derive(Debug)]
pub enum Stored {
    /// A block; its stored payload is in the buffer given.
    Block(StoredBlock),
    /// As [`Next::Fatal`].
    Fatal(String),
    /// Clean end of file.
    End,
}

/// Decompresses block payloads of one file into a reused buffer of
/// [`MAX_BLOCK_BYTES`]. One per thread.
pub struct Decompressor {
    compression: Compression,
    layout: u16,
    out: Vec<u8>,
    zstd: Option<zstd::bulk::Decompressor<'static>>,
}

impl Decompressor {
    /// A decompressor for the blocks of a file with `header`.
    pub fn new(header: &FileHeader) -> Self {
        Decompressor {
            compression: header.compression,
            layout: header.layout,
            out: Vec::new(),
            zstd: None,
        }
    }

    /// The payload of block `b`, whose stored bytes are `src`, decompressed
    /// unless the block or the file is stored uncompressed.
    pub fn decompress<'a>(&'a mut self, b: &StoredBlock, src: &'a [u8]) -> Next<'a> {
        let header = b.header;
        let stored = match self.layout {
            // nfdump 1.6: flags 1 = this block stored uncompressed.
            LAYOUT_VERSION_1 => header.flags == 1,
            // nfdump 1.7: FLAG_BLOCK_UNCOMPRESSED.
            _ => header.flags & 0x1 != 0,
        };
        if stored || self.compression == Compression::None {
            return Next::Block(header, src);
        }
        if self.out.len() < MAX_BLOCK_BYTES {
            self.out.resize(MAX_BLOCK_BYTES, 0);
        }
        let dst = &mut self.out[..MAX_BLOCK_BYTES];
        let res: Result<usize, String> = match self.compression {
            Compression::None => Ok(0),
            Compression::Lz4 => {
                lz4_flex::block::decompress_into(src, dst).map_err(|e| e.to_string())
            }
            Compression::Lzo => lzallright::decompress(src, dst).map_err(|e| format!("{e:?}")),
            Compression::Zstd => {
                if self.zstd.is_none() {
                    match zstd::bulk::Decompressor::new() {
                        Ok(z) => self.zstd = Some(z),
                        Err(e) => {
                            return Next::Bad(
                                header,
                                format!(
                                    "block {} at offset {}: cannot start the ZSTD decompressor: {e}",
                                    b.block_no, b.offset
                                ),
                            );
                        }
                    }
                }
                match &mut self.zstd {
                    Some(z) => z.decompress_to_buffer(src, dst).map_err(|e| e.to_string()),
                    None => Err("no ZSTD decompressor".into()),
                }
            }
            Compression::Bz2 => bz2(src, dst),
        };
        match res {
            Ok(n) => Next::Block(header, self.out.get(..n).unwrap_or_default()),
            Err(e) => Next::Bad(
                header,
                format!(
                    "block {} at offset {}: {} decompression failed: {e}",
                    b.block_no,
                    b.offset,
                    self.compression.name()
                ),
            ),
        }
    }
}

impl BlockReader {
    /// A reader for blocks starting at `offset` in a file with `header`.
    pub fn new(header: &FileHeader, offset: u64) -> Self {
        BlockReader {
            raw: Vec::new(),
            dec: Decompressor::new(header),
            offset,
            block_no: 0,
        }
    }

    /// The next block of `r`, decompressed.
    pub fn next_block(&mut self, r: &mut dyn Read) -> io::Result<Next<'_>> {
        let mut raw = std::mem::take(&mut self.raw);
        let res = self.next_stored(r, &mut raw);
        self.raw = raw;
        match res? {
            Stored::End => Ok(Next::End),
            Stored::Fatal(why) => Ok(Next::Fatal(why)),
            Stored::Block(b) => {
                let size = b.header.size as usize;
                let src = self.raw.get(..size).unwrap_or_default();
                Ok(self.dec.decompress(&b, src))
            }
        }
    }

    /// The next block of `r` as stored: its header, with its payload
    /// (`header.size` bytes) read into the front of `buf` (grown as needed,
    /// never beyond [`MAX_BLOCK_BYTES`]).
    pub fn next_stored(&mut self, r: &mut dyn Read, buf: &mut Vec<u8>) -> io::Result<Stored> {
        let mut h = [0u8; BLOCK_HEADER_BYTES];
        let got = read_full(r, &mut h)?;
        if got == 0 {
            return Ok(Stored::End);
        }
        self.block_no += 1;
        let at = self.offset;
        if got < BLOCK_HEADER_BYTES {
            return Ok(Stored::Fatal(format!(
                "block {} at offset {at}: file ends inside the block header ({got} of {BLOCK_HEADER_BYTES} bytes)",
                self.block_no
            )));
        }
        let header = BlockHeader {
            num_records: u32_at(&h, 0),
            size: u32_at(&h, 4),
            kind: u16_at(&h, 8),
            flags: u16_at(&h, 10),
        };
        let size = header.size as usize;
        if size > MAX_BLOCK_BYTES {
            return Ok(Stored::Fatal(format!(
                "block {} at offset {at}: size {size} exceeds the {MAX_BLOCK_BYTES}-byte limit (corrupt block header); rest of the file skipped",
                self.block_no
            )));
        }
        if buf.len() < size {
            buf.resize(size, 0);
        }
        let got = read_full(r, &mut buf[..size])?;
        self.offset += (BLOCK_HEADER_BYTES + got) as u64;
        if got < size {
            return Ok(Stored::Fatal(format!(
                "block {} at offset {at}: file ends inside the block ({got} of {size} payload bytes)",
                self.block_no
            )));
        }
        Ok(Stored::Block(StoredBlock {
            header,
            block_no: self.block_no,
            offset: at,
        }))
    }
}

/// Decompresses one BZ2 stream into `dst`, returning the bytes written.
fn bz2(src: &[u8], dst: &mut [u8]) -> Result<usize, String> {
    let mut d = bzip2::Decompress::new(false);
    loop {
        let (inp, outp) = (d.total_in() as usize, d.total_out() as usize);
        let (Some(i), Some(o)) = (src.get(inp..), dst.get_mut(outp..)) else {
            return Err("stream position out of range".into());
        };
        match d.decompress(i, o) {
            Ok(bzip2::Status::StreamEnd) => return Ok(d.total_out() as usize),
            Ok(_) => {
                if d.total_in() as usize == inp && d.total_out() as usize == outp {
                    return Err(if outp == dst.len() {
                        "output exceeds the block size limit".into()
                    } else {
                        "stream truncated".into()
                    });
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// A layout-2 file header with `compression` (0-4) and `num_blocks`, as
/// nfdump writes it (other fields zero). For building test files.
pub fn v2_header(compression: u8, num_blocks: u32) -> [u8; V2_HEADER_BYTES] {
    let mut h = [0u8; V2_HEADER_BYTES];
    h[..2].copy_from_slice(&MAGIC.to_le_bytes());
    h[2..4].copy_from_slice(&LAYOUT_VERSION_2.to_le_bytes());
    h[16] = compression;
    h[36..40].copy_from_slice(&num_blocks.to_le_bytes());
    h
}

/// A layout-1 file header and stat record with compression `flags` (see
/// [`read_header`]) and `num_blocks`. For building test files.
pub fn v1_header(flags: u32, num_blocks: u32) -> [u8; V1_HEADER_BYTES] {
    let mut h = [0u8; V1_HEADER_BYTES];
    h[..2].copy_from_slice(&MAGIC.to_le_bytes());
    h[2..4].copy_from_slice(&LAYOUT_VERSION_1.to_le_bytes());
    h[4..8].copy_from_slice(&flags.to_le_bytes());
    h[8..12].copy_from_slice(&num_blocks.to_le_bytes());
    h
}
