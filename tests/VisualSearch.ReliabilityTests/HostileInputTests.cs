using VisualSearch.Imaging;
using VisualSearch.Ingestion;
using VisualSearch.ReliabilityTests.Infrastructure;

namespace VisualSearch.ReliabilityTests;

/// <summary>
/// The hostile corpus through the decoder and through ingestion: every file is indexed, or refused with exactly
/// its expected reason, within a time bound, and never stops the good files around it.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class HostileInputTests(EngineFixture engine)
{
    private static readonly TimeSpan PerFile = TimeSpan.FromSeconds(20);

    public static TheoryData<string> Cases => [.. HostileCorpus.All.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Each_file_is_decoded_or_refused_with_its_reason(string name)
    {
        var hostile = HostileCorpus.Get(name);

        // Off the test thread with a deadline: a hang fails the test instead of stalling the run.
        var outcome = await Task.Run(() =>
        {
            try
            {
                var prepared = engine.Decoder.Prepare(hostile.Bytes, engine.Encoder.InputSize);
                Assert.Equal(engine.Encoder.InputSize * engine.Encoder.InputSize * 3, prepared.Rgb.Length);
                return (Reason: (ImageRejectionReason?)null, Detail: $"{prepared.Format} {prepared.Width}x{prepared.Height}");
            }
            catch (ImageRejectedException ex)
            {
                Assert.False(string.IsNullOrWhiteSpace(ex.Message));
                return (ex.Reason, ex.Message);
            }
        }).WaitAsync(PerFile);

        Assert.True(hostile.Reason == outcome.Reason,
            $"{name} ({hostile.What}): expected {hostile.Reason?.ToString() ?? "indexed"}, got {outcome.Reason?.ToString() ?? "decoded"}: {outcome.Detail}");
    }

    [Fact]
    public async Task Ingesting_the_corpus_between_good_files_indexes_every_good_file()
    {
        using var store = new Engine(engine);
        var good = HostileCorpus.GoodFiles(HostileCorpus.All.Count + 1);
        // good, hostile, good, hostile, ..., good; two workers, as `vsearch index` runs by default.
        var work = new List<(string Id, byte[] Bytes, HostileCase? Hostile)>();
        for (var i = 0; i < good.Count; i++)
        {
            work.Add(($"good/{good[i].Name}", good[i].Bytes, null));
            if (i < HostileCorpus.All.Count) work.Add(($"hostile/{HostileCorpus.All[i].Name}", HostileCorpus.All[i].Bytes, HostileCorpus.All[i]));
        }

        var results = new IngestResult[work.Count];
        await Parallel.ForAsync(0, work.Count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (i, ct) =>
            results[i] = await store.IngestAsync(work[i].Id, work[i].Bytes, $"\"{i}\"").WaitAsync(PerFile, ct));

        for (var i = 0; i < work.Count; i++)
        {
            var (id, _, hostile) = work[i];
            var expected = hostile is null || hostile.Indexed ? IngestOutcome.Indexed : IngestOutcome.Rejected;
            Assert.True(expected == results[i].Outcome && hostile?.Reason == results[i].Reason,
                $"{id}: expected {expected} {hostile?.Reason}, got {results[i].Outcome} {results[i].Reason} {results[i].Detail}");
            Assert.Equal(expected == IngestOutcome.Indexed, await store.Index.GetAsync(id) is not null);
        }

        Assert.Equal(good.Count + HostileCorpus.All.Count(c => c.Indexed), await store.Index.CountAsync());
        // Each refusal is logged once, with its reason.
        var rejections = store.Logs.WithEventId(12);
        Assert.Equal(HostileCorpus.All.Count(c => !c.Indexed), rejections.Count);
        foreach (var hostile in HostileCorpus.All.Where(c => !c.Indexed))
            Assert.Single(rejections, e => e.Message.Contains($"hostile/{hostile.Name}: {hostile.Reason}:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void Every_exif_orientation_gives_the_embedding_of_the_upright_photo(int orientation)
    {
        using var upright = HostileCorpus.Upright();
        var reference = TestImages.Encode(upright, ImageFormat.Jpeg, 95);
        var tagged = HostileCorpus.Get($"orientation-{orientation}.jpg").Bytes;

        var expected = engine.Decoder.Prepare(reference, engine.Encoder.InputSize);
        var actual = engine.Decoder.Prepare(tagged, engine.Encoder.InputSize);
        Assert.Equal((HostileCorpus.Width, HostileCorpus.Height), (actual.Width, actual.Height));
        var diff = TestImages.MeanAbsDiff(expected.Rgb, actual.Rgb);
        Assert.True(diff < 4, $"orientation {orientation}: mean abs pixel difference to the upright photo is {diff:F2}");

        var cosine = EngineFixture.Cosine(engine.Encoder.Embed(expected).Vector, engine.Encoder.Embed(actual).Vector);
        Assert.True(cosine > 0.99f, $"orientation {orientation}: cosine to the upright photo's embedding is {cosine:F4}");

        if (orientation == 1) return;
        // The same stored pixels without the tag are another picture: the match above is the orientation's doing.
        using var stored = HostileCorpus.StoreForOrientation(upright, orientation);
        var untagged = engine.Decoder.Prepare(TestImages.Encode(stored, ImageFormat.Jpeg, 95), engine.Encoder.InputSize);
        Assert.True(TestImages.MeanAbsDiff(expected.Rgb, untagged.Rgb) > 5 * diff + 15, $"orientation {orientation}: the untagged stored image already looks upright");
    }

    [Theory]
    [InlineData("cmyk-adobe.jpg", 4.0)]
    [InlineData("rgb48.png", 1.0)]
    [InlineData("exif-60kb.jpg", 0.0)]
    [InlineData("icc-60kb.jpg", 0.0)]
    [InlineData("icc-3x60kb.jpg", 0.0)]
    [InlineData("lossless.webp", 0.0)]
    public void Colour_model_and_metadata_variants_decode_to_the_same_picture(string name, double tolerance)
    {
        using var upright = HostileCorpus.Upright();
        // JPEG variants are compared with the plain JPEG they were made from; the rest with the lossless PNG.
        var baseline = name is "exif-60kb.jpg" or "icc-60kb.jpg" or "icc-3x60kb.jpg"
            ? TestImages.Encode(upright, ImageFormat.Jpeg, 92)
            : TestImages.Encode(upright, ImageFormat.Png);
        var expected = engine.Decoder.Prepare(baseline, engine.Encoder.InputSize);
        var actual = engine.Decoder.Prepare(HostileCorpus.Get(name).Bytes, engine.Encoder.InputSize);
        var diff = TestImages.MeanAbsDiff(expected.Rgb, actual.Rgb);
        Assert.True(diff <= tolerance, $"{name}: mean abs difference {diff:F2} (allowed {tolerance})");
    }

    [Fact]
    public void Greyscale_files_decode_to_the_grey_of_the_picture()
    {
        var png = engine.Decoder.Prepare(HostileCorpus.Get("grey.png").Bytes, engine.Encoder.InputSize).Rgb;
        var jpeg = engine.Decoder.Prepare(HostileCorpus.Get("grey.jpg").Bytes, engine.Encoder.InputSize).Rgb;
        for (var i = 0; i < png.Length; i += 3)
        {
            Assert.True(png[i] == png[i + 1] && png[i + 1] == png[i + 2], "grey PNG pixels have R = G = B");
            Assert.InRange(Math.Abs(jpeg[i] - jpeg[i + 2]), 0, 2);
        }

        Assert.True(TestImages.MeanAbsDiff(png, jpeg) < 4);
    }

    [Fact]
    public void An_animated_gif_is_indexed_by_its_first_frame()
    {
        using var upright = HostileCorpus.Upright();
        var animated = engine.Embed(HostileCorpus.Get("animated.gif").Bytes);
        var firstFrame = engine.Embed(TestImages.Encode(upright, ImageFormat.Gif));
        using var second = HostileCorpus.OtherFrame("chelsea.png");
        var secondFrame = engine.Embed(TestImages.Encode(second, ImageFormat.Gif));

        var first = EngineFixture.Cosine(animated, firstFrame);
        var other = EngineFixture.Cosine(animated, secondFrame);
        Assert.True(first > 0.98f && other < first - 0.1f, $"cosine to the first frame {first:F4}, to the second {other:F4}");
    }
}
