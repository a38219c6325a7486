//! Command-line arguments (clap). Converted once into the library's validated
//! options; nothing later re-parses strings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use subtext::asr::whisper::DecodeOptions;
use subtext::asr::Language;
use subtext::engine::{EngineOptions, VadKind};
use subtext::live::input::{SampleFormat, StreamFormat};
use subtext::live::{LiveChannels, LiveOptions};
use subtext::pipeline::{ChannelLayout, LanguageChoice, PipelineConfig};
use subtext::sink::Format;

#[derive(Parser, Debug)]
#[command(
    name = "subtext",
    version,
    about = "Transcribe and tag contact-centre calls, offline",
    long_about = "Transcribe and tag contact-centre calls, offline.\n\n\
        Recorded calls (stereo agent/customer or mono; WAV, MP3, FLAC, Ogg) become timed, \
        speaker-attributed transcripts: NAME.subtext.json, NAME.vtt and NAME.srt. Every \
        turn is tagged with emotions, intensity, deep-metaphor cues, the likely need behind \
        it and its contact type: hypotheses with confidences, never verdicts.\n\
        Nothing leaves the machine. Models are made by `make models` (see README).",
    after_help = "Examples:\n  subtext batch calls/ --out tagged/\n  subtext transcribe call.wav > call.json\n  subtext transcribe call.wav --format text --language nl\n  subtext score \"Ik hang al twintig minuten aan de lijn, ik kook gewoon.\"\n  subtext pace samples/call-nl-1.wav | subtext live --pretty"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More log detail on stderr (-v: per call, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr; no progress bar.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Transcribe many calls (files or folders, recursively) into an output folder.
    ///
    /// Calls already done with the same audio and settings are skipped, so an
    /// interrupted batch resumes where it stopped. A file that cannot be read is
    /// reported with its reason and the batch goes on. Exit code 0 when every call
    /// succeeded, 1 when some failed, 130 when interrupted.
    Batch(BatchArgs),
    /// Transcribe one call and print the result (JSON by default) on stdout.
    Transcribe(TranscribeArgs),
    /// Tag text without audio, for quick checks: each TEXT argument (or, without
    /// any, each line of stdin) becomes one JSON line with its emotion, metaphor,
    /// need and contact-type tags.
    #[command(
        after_help = "Examples:\n  subtext score \"Ik word van het kastje naar de muur gestuurd\"\n  subtext score --pretty \"I'm boiling, I've been on hold for an hour\"\n  subtext score < turns.txt > tags.jsonl"
    )]
    Score(ScoreArgs),
    /// Show a tagged call for reading: turns with speaker, time, tag badges and
    /// hints, then the summary (emotion curve, moments, outcome, follow-up).
    #[command(
        after_help = "Examples:\n  subtext show tagged/call-nl-1.subtext.json\n  subtext show --markdown tagged/call-nl-1.subtext.json > call.md"
    )]
    Show(ShowArgs),
    /// Check a hint catalog (TOML) and list its entries; with --print-default,
    /// print the built-in catalog to start your own from.
    #[command(
        after_help = "Examples:\n  subtext hints --print-default > my-hints.toml\n  subtext hints my-hints.toml\n  subtext batch calls/ --hints my-hints.toml"
    )]
    Hints(HintsArgs),
    /// Tag a call as it happens: raw audio on stdin, JSON Lines on stdout.
    ///
    /// Input is raw PCM (s16le by default; see --format, --rate, --channels) or a WAV
    /// stream, whose header then decides the format. Out come `partial` events
    /// (the words so far of the utterance being spoken), `final` events (the turn
    /// with words, times and tags, as soon as the speaker pauses), `hint` events for
    /// the agent, and `stats` lines (audio received, lag, decode time). End of input
    /// or Ctrl-C flushes the utterance in progress and exits 0; malformed input is
    /// reported on stderr after what came before it is flushed, with exit code 1.
    #[command(
        after_help = "Examples:\n  arecord -f S16_LE -r 16000 -c 2 | subtext live --rate 16000 --channels agent,customer\n  subtext pace samples/call-nl-1.wav | subtext live\n  subtext live --pretty < call.raw"
    )]
    Live(LiveArgs),
    /// Play audio files into a pipe at real-time speed (a WAV stream on stdout), to
    /// try `subtext live` on recordings.
    #[command(
        after_help = "Examples:\n  subtext pace samples/call-nl-1.wav | subtext live --pretty\n  subtext pace --speed 0 samples/call-en-1.wav | subtext live > events.jsonl\n  subtext pace --until 1800 samples/*.wav | subtext live   # half an hour"
    )]
    Pace(PaceArgs),
    /// Write a copy of a recording with the personal data its transcript redacted
    /// (IBAN, phone, BSN, card, e-mail, date, address ...) covered by a tone or
    /// silence, for listening sessions.
    #[command(
        name = "redact-audio",
        after_help = "Examples:\n  subtext redact-audio call.wav tagged/call.subtext.json --out call.redacted.wav\n  subtext redact-audio call.wav tagged/call.subtext.json --out call.redacted.wav --silence"
    )]
    RedactAudio(RedactAudioArgs),
    /// Replay a tagged call on its own clock, as the agent would have seen it live:
    /// turns appear when they ended, hints when they fired, and a status line shows
    /// the call time and the customer's current emotion.
    ///
    /// In a terminal: space pauses, ←/→ jump to the previous/next turn, q quits.
    /// Piped (or with --plain): timed lines, one event per line group.
    #[command(
        after_help = "Examples:\n  subtext replay tagged/call-nl-1.subtext.json\n  subtext replay tagged/call-nl-1.subtext.json --speed 4 --from 02:10\n  subtext replay --speed max tagged/call-nl-1.subtext.json | less"
    )]
    Replay(ReplayArgs),
    /// Browse tagged calls in a local web app: a sortable call list, and per call the
    /// audio player, the transcript with tags, cue spans and hints, and the emotion
    /// curve. Listens on 127.0.0.1 only, unless --bind says otherwise.
    #[command(
        after_help = "Examples:\n  subtext serve tagged/ --audio calls/\n  subtext serve tagged/ --audio calls/ --port 8080\n\nPrivacy: calls transcribed with --no-redact are listed but not shown (see\n--allow-unredacted); recordings are served with their redacted spans covered by a\ntone (see --original-audio)."
    )]
    Serve(ServeArgs),
    /// Write one tagged call as a self-contained HTML page (the serve call page,
    /// with its data inside), for sharing without a server. The recording is linked
    /// by a relative path; when the call has redacted spans, a copy with them
    /// covered is written beside the report and linked instead.
    #[command(
        after_help = "Examples:\n  subtext report tagged/call-nl-1.subtext.json --out call-nl-1.html\n  subtext report tagged/call-nl-1.subtext.json --out r.html --audio calls/call-nl-1.redacted.wav"
    )]
    Report(ReportArgs),
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A `NAME.subtext.json` written by `batch` or `transcribe`.
    pub input: PathBuf,
    /// Replay speed: a factor of real time (1, 2, 4 ...) or max.
    #[arg(long, default_value = "1")]
    pub speed: subtext::replay::Speed,
    /// Start at this call time (mm:ss, h:mm:ss or seconds).
    #[arg(long, default_value = "0", value_parser = subtext::replay::parse_time)]
    pub from: f64,
    /// Timed lines even in a terminal (no keys, no status line).
    #[arg(long)]
    pub plain: bool,
    /// Colour in the terminal view: auto, always or never.
    #[arg(long, default_value = "auto")]
    pub color: ColorArg,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Folders with tagged calls (`NAME.subtext.json`, searched recursively).
    #[arg(required = true)]
    pub tagged: Vec<PathBuf>,
    /// Folders with the recordings (matched by the path or name in each call's
    /// `source`, and checked by sha256). Without it the pages have no audio.
    #[arg(long)]
    pub audio: Vec<PathBuf>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on. Anything but loopback exposes call content to the
    /// network and is warned about.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Show calls transcribed with --no-redact too.
    #[arg(long)]
    pub allow_unredacted: bool,
    /// Serve recordings as they are, without covering redacted spans.
    #[arg(long)]
    pub original_audio: bool,
    /// Smallest group of calls for which the list shows counts (trajectory,
    /// metaphor ...): smaller groups could point at a person.
    #[arg(long, default_value_t = 10)]
    pub min_group: usize,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A `NAME.subtext.json` written by `batch` or `transcribe`.
    pub input: PathBuf,
    /// Where to write the HTML page.
    #[arg(short, long)]
    pub out: PathBuf,
    /// The recording to link, as it is (by default the call's own recording is
    /// looked for at its `source` path and beside the transcript).
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// Write a report of a call transcribed with --no-redact.
    #[arg(long)]
    pub allow_unredacted: bool,
    /// Link the original recording even when it holds redacted spans.
    #[arg(long)]
    pub original_audio: bool,
}

#[derive(Args, Debug)]
pub struct RedactAudioArgs {
    /// The recording.
    pub audio: PathBuf,
    /// Its transcript (`NAME.subtext.json`, made without --no-redact).
    pub transcript: PathBuf,
    /// Where to write the covered recording (16-bit WAV at the recording's rate).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Silence instead of a 1 kHz tone.
    #[arg(long)]
    pub silence: bool,
    /// Extra time covered before and after each redacted span (ms): word times are
    /// approximate.
    #[arg(long, default_value_t = 150)]
    pub pad_ms: u32,
    /// Cover the transcript's times even if it was made from other audio.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct LiveArgs {
    /// Sample format of headerless input (little-endian).
    #[arg(long, default_value = "s16le")]
    pub format: SampleArg,
    /// Sample rate of headerless input, in Hz (resampled to 16 kHz).
    #[arg(long, default_value_t = 16_000, value_parser = clap::value_parser!(u32).range(8_000..=48_000))]
    pub rate: u32,
    /// Who is on which channel: `agent,customer` (2 channels; also `2`),
    /// `customer,agent`, `mono` (1 channel, or channels mixed; speaker unknown, no
    /// hints; also `1`), or `customer` / `agent` for a one-voice stream.
    #[arg(short, long, default_value = "agent,customer")]
    pub channels: LiveChannelsArg,
    /// Language of the call; `auto` decides from the first 2 s utterance.
    #[arg(short, long, default_value = "auto")]
    pub language: LanguageArg,
    /// Readable output for a terminal instead of JSON Lines.
    #[arg(long)]
    pub pretty: bool,
    /// No `partial` events (saves CPU for finals on a slow machine).
    #[arg(long)]
    pub no_partials: bool,
    /// Seconds between `stats` lines; 0 writes only the last one.
    #[arg(long, default_value_t = 5.0)]
    pub stats_every: f64,
    /// Threads for speech recognition. Default: the number of CPU cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Beam width for partials and finals; 1 (default) is greedy search.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub beam_size: u32,
    /// whisper.cpp ggml model file [default: models/ggml-base-q8_0.bin].
    #[arg(short, long, env = "SUBTEXT_MODEL")]
    pub model: Option<PathBuf>,
    /// Folder with the models made by `make models`.
    #[arg(long, env = "SUBTEXT_MODELS")]
    pub models_dir: Option<PathBuf>,
    /// Keep personal data in the output (it is replaced by placeholders by default).
    #[arg(long)]
    pub no_redact: bool,
    /// Transcribe only: no tags and no hints.
    #[arg(long)]
    pub no_tags: bool,
    /// A metaphor lexicon (TOML) to use instead of the built-in one.
    #[arg(long)]
    pub lexicon: Option<PathBuf>,
    /// A hint catalog (TOML) to use instead of the built-in one.
    #[arg(long)]
    pub hints: Option<PathBuf>,
}

impl LiveArgs {
    pub fn engine_options(&self) -> EngineOptions {
        let defaults = EngineOptions::default();
        EngineOptions {
            model: self.model.clone(),
            models_dir: self.models_dir.clone().unwrap_or(defaults.models_dir),
            pipeline: PipelineConfig {
                language: self.language.into(),
                redact: !self.no_redact,
                ..PipelineConfig::default()
            },
            tags: !self.no_tags,
            lexicon: self.lexicon.clone(),
            hints: self.hints.clone(),
            decode: DecodeOptions {
                beam_size: self.beam_size,
                ..DecodeOptions::default()
            },
            ..defaults
        }
    }

    pub fn live_options(&self) -> anyhow::Result<LiveOptions> {
        if !(self.stats_every >= 0.0 && self.stats_every.is_finite()) {
            anyhow::bail!("--stats-every must be 0 or more seconds");
        }
        let channels = match self.channels {
            LiveChannelsArg::AgentCustomer => LiveChannels::AgentCustomer,
            LiveChannelsArg::CustomerAgent => LiveChannels::CustomerAgent,
            LiveChannelsArg::Mono => LiveChannels::Mono,
            LiveChannelsArg::Customer => LiveChannels::Customer,
            LiveChannelsArg::Agent => LiveChannels::Agent,
        };
        let raw_channels = match channels {
            LiveChannels::AgentCustomer | LiveChannels::CustomerAgent => 2,
            _ => 1,
        };
        Ok(LiveOptions {
            raw: StreamFormat {
                sample: match self.format {
                    SampleArg::S16le => SampleFormat::S16,
                    SampleArg::F32le => SampleFormat::F32,
                },
                rate: self.rate,
                channels: raw_channels,
            },
            channels,
            partials: !self.no_partials,
            stats_every: (self.stats_every > 0.0)
                .then(|| std::time::Duration::from_secs_f64(self.stats_every)),
            vad: Default::default(),
        })
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SampleArg {
    S16le,
    F32le,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum LiveChannelsArg {
    #[value(name = "agent,customer", alias = "2")]
    AgentCustomer,
    #[value(name = "customer,agent")]
    CustomerAgent,
    #[value(alias = "1")]
    Mono,
    Customer,
    Agent,
}

#[derive(Args, Debug)]
pub struct PaceArgs {
    /// Audio files, played one after another.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Playback speed: 1 is real time, 0 as fast as the reader takes it.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Bare s16le samples, no WAV header (then tell `subtext live` --rate 16000
    /// and --channels).
    #[arg(long)]
    pub raw: bool,
    /// Repeat the files until this many seconds of audio have been played.
    #[arg(long)]
    pub until: Option<f64>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// A `NAME.subtext.json` written by `batch` or `transcribe`.
    pub input: PathBuf,
    /// Write Markdown (for sharing) instead of the terminal view.
    #[arg(long)]
    pub markdown: bool,
    /// Colour in the terminal view: auto (when stdout is a terminal and NO_COLOR
    /// is unset), always or never.
    #[arg(long, default_value = "auto")]
    pub color: ColorArg,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

impl ColorArg {
    /// Whether to colour output going to a terminal (`terminal`) or elsewhere:
    /// `auto` colours a terminal unless `NO_COLOR` is set.
    pub fn wanted(self, terminal: bool) -> bool {
        match self {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => terminal && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

#[derive(Args, Debug)]
pub struct HintsArgs {
    /// The catalog file to check (the built-in one when not given).
    pub catalog: Option<PathBuf>,
    /// Print the built-in catalog (TOML) on stdout.
    #[arg(long, conflicts_with = "catalog")]
    pub print_default: bool,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Texts to tag; without any, lines are read from stdin.
    pub texts: Vec<String>,
    /// Folder with the models made by `make models`.
    #[arg(long, env = "SUBTEXT_MODELS")]
    pub models_dir: Option<PathBuf>,
    /// A metaphor lexicon (TOML) to use instead of the built-in one.
    #[arg(long)]
    pub lexicon: Option<PathBuf>,
    /// Keep personal data in the echoed text (it is replaced by placeholders by default).
    #[arg(long)]
    pub no_redact: bool,
    /// Indented JSON and the label display names, for reading in a terminal.
    #[arg(long)]
    pub pretty: bool,
    /// Also give the hint an agent would see if the text were a customer's first
    /// turn in a call.
    #[arg(long)]
    pub hints: bool,
    /// A hint catalog (TOML) to use instead of the built-in one (implies --hints).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Language of the hint text.
    #[arg(long, default_value = "nl")]
    pub language: HintLanguageArg,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum HintLanguageArg {
    Nl,
    En,
}

#[derive(Args, Debug)]
pub struct BatchArgs {
    /// Audio files or folders (searched recursively for .wav .mp3 .flac .ogg).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder; keeps the input folders' structure.
    #[arg(short, long, default_value = "tagged")]
    pub out: PathBuf,
    /// Outputs per call (comma-separated). `jsonl` also streams every call's turns to stdout.
    #[arg(short, long, value_delimiter = ',', default_value = "json,vtt,srt")]
    pub format: Vec<FormatArg>,
    /// Redo calls whose outputs are already up to date.
    #[arg(long)]
    pub force: bool,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Args, Debug)]
pub struct TranscribeArgs {
    /// The call's audio file.
    pub input: PathBuf,
    /// Output format.
    #[arg(short, long, default_value = "json")]
    pub format: FormatArg,
    /// Write to this file (atomically) instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Args, Debug)]
pub struct EngineArgs {
    /// whisper.cpp ggml model file [default: models/ggml-base-q8_0.bin]. Any
    /// whisper.cpp model works (e.g. a multilingual small or medium you bring).
    #[arg(short, long, env = "SUBTEXT_MODEL")]
    pub model: Option<PathBuf>,
    /// Folder with the models made by `make models`.
    #[arg(long, env = "SUBTEXT_MODELS")]
    pub models_dir: Option<PathBuf>,
    /// Language of the calls; `auto` chooses Dutch or English per call.
    #[arg(short, long, default_value = "auto")]
    pub language: LanguageArg,
    /// Which channel is who in stereo files; `mono` mixes them (speaker "unknown").
    #[arg(short, long, default_value = "agent,customer")]
    pub channels: ChannelsArg,
    /// Parallel transcription workers (one thread each). Default: the number of CPU cores.
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Voice activity detection: silero (default), energy (no model) or off.
    #[arg(long, default_value = "silero")]
    pub vad: VadArg,
    /// Beam width; 1 is greedy search (fastest). The default 3 measured 2-3 points
    /// of word error rate better than greedy on Dutch, for about 15% more time.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub beam_size: u32,
    /// Keep personal data (IBAN, e-mail, phone, card and BSN numbers, postcodes,
    /// addresses) in the output. By default it is replaced by placeholders.
    #[arg(long)]
    pub no_redact: bool,
    /// Temperature step for whisper's retry on unsure output; 0 (default) keeps
    /// decoding deterministic.
    #[arg(long, default_value_t = 0.0)]
    pub temperature_inc: f32,
    /// Transcribe only: no emotion, metaphor, need or voice tags (for instance when
    /// the customer opted out of emotion scoring).
    #[arg(long)]
    pub no_tags: bool,
    /// A metaphor lexicon (TOML) to use instead of the built-in one.
    #[arg(long)]
    pub lexicon: Option<PathBuf>,
    /// A hint catalog (TOML) to use instead of the built-in one; `subtext hints
    /// --print-default` prints the built-in one to start from.
    #[arg(long)]
    pub hints: Option<PathBuf>,
    /// Refuse recordings longer than this many seconds, before decoding them
    /// (memory: about 0.45 GB per hour of stereo); 0 = no limit.
    #[arg(long, default_value_t = subtext::engine::DEFAULT_MAX_DURATION)]
    pub max_duration: f64,
}

impl From<LanguageArg> for LanguageChoice {
    fn from(l: LanguageArg) -> Self {
        match l {
            LanguageArg::Auto => LanguageChoice::Auto,
            LanguageArg::Nl => LanguageChoice::Fixed(Language::Dutch),
            LanguageArg::En => LanguageChoice::Fixed(Language::English),
        }
    }
}

impl EngineArgs {
    pub fn to_options(&self) -> anyhow::Result<EngineOptions> {
        let defaults = EngineOptions::default();
        let jobs = self
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if jobs == 0 {
            anyhow::bail!("--jobs must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.temperature_inc) {
            anyhow::bail!("--temperature-inc must be between 0 and 1");
        }
        Ok(EngineOptions {
            model: self.model.clone(),
            models_dir: self.models_dir.clone().unwrap_or(defaults.models_dir),
            vad: match self.vad {
                VadArg::Silero => VadKind::Silero,
                VadArg::Energy => VadKind::Energy,
                VadArg::Off => VadKind::Off,
            },
            jobs,
            decode: DecodeOptions {
                beam_size: self.beam_size,
                temperature_inc: self.temperature_inc,
                ..DecodeOptions::default()
            },
            pipeline: PipelineConfig {
                language: self.language.into(),
                channels: match self.channels {
                    ChannelsArg::AgentCustomer => ChannelLayout::AgentCustomer,
                    ChannelsArg::CustomerAgent => ChannelLayout::CustomerAgent,
                    ChannelsArg::Mono => ChannelLayout::Mono,
                },
                redact: !self.no_redact,
                ..PipelineConfig::default()
            },
            tags: !self.no_tags,
            lexicon: self.lexicon.clone(),
            hints: self.hints.clone(),
            max_duration: (self.max_duration > 0.0).then_some(self.max_duration),
        })
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum LanguageArg {
    Auto,
    Nl,
    En,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ChannelsArg {
    #[value(name = "agent,customer")]
    AgentCustomer,
    #[value(name = "customer,agent")]
    CustomerAgent,
    Mono,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum VadArg {
    Silero,
    Energy,
    Off,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum FormatArg {
    Json,
    Jsonl,
    Vtt,
    Srt,
    Text,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Json => Format::Json,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Vtt => Format::Vtt,
            FormatArg::Srt => Format::Srt,
            FormatArg::Text => Format::Text,
        }
    }
}
