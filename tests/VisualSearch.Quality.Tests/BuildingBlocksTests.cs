using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SkiaSharp;
using VisualSearch.Diagnostics;
using VisualSearch.Embedding;
using VisualSearch.Evaluation;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Training;

namespace VisualSearch.Quality.Tests;

/// <summary>The pieces under the commands: labelled sets, the cache, the head file, PCA, health, the copy edits.</summary>
public sealed class BuildingBlocksTests
{
    [Fact]
    public void FolderClassesAreSubFolders()
    {
        using var dir = new TempDirectory();
        TinySets.WriteClassFolders(dir.Path, 2, 2);
        File.WriteAllText(Path.Combine(dir.Path, "README.txt"), "not an image");
        File.WriteAllBytes(Path.Combine(dir.Path, "loose.png"), TinySets.Draw(0, 1));

        var set = LabelledSet.Load(dir.Path);
        Assert.Equal(["circles/00.png", "circles/01.png", "squares/00.png", "squares/01.png"], set.Items.Select(i => i.Id));
        Assert.Equal(["circles", "circles", "squares", "squares"], set.Items.Select(i => i.Label));
        Assert.Equal(2, set.Ignored);
    }

    [Fact]
    public void ManifestSubsetsTasksAndSplit()
    {
        using var dir = new TempDirectory();
        foreach (var sub in new[] { "A_one/x", "A_one/y", "A_one/z", "B_refs" }) Directory.CreateDirectory(Path.Combine(dir.Path, sub));
        foreach (var f in new[] { "A_one/x/1.png", "A_one/x/2.png", "A_one/y/1.png", "A_one/z/1.png", "B_refs/r.png" })
            File.WriteAllBytes(Path.Combine(dir.Path, f), TinySets.Draw(0, 1));
        var manifest = Path.Combine(dir.Path, "manifest.csv");
        File.WriteAllText(manifest, """
            file,task,label,source_package,source_path
            A_one/x/1.png,A,one/x,pkg,"/usr/share/a,b.png"
            A_one/x/2.png,A,one/x,pkg,p
            A_one/y/1.png,A,one/y,pkg,p
            A_one/z/1.png,A,one/z,pkg,p
            A_one/missing.png,A,one/z,pkg,p
            B_refs/r.png,B,r,pkg,p
            """);

        var all = LabelledSet.Load(manifest);
        Assert.Equal(["A_one", "B_refs"], all.Subsets);
        Assert.Equal(1, all.Ignored);
        var a = LabelledSet.Load(manifest, subset: "A_one");
        Assert.Equal(4, a.Items.Count);
        Assert.Equal(4, LabelledSet.Load(manifest, task: "A").Items.Count);

        var (train, test) = LabelledSet.SplitByClass(a.Items);
        Assert.Equal(["one/x", "one/y"], LabelledSet.Classes(train)); // first half of 3 classes, rounded up
        Assert.Equal(["one/z"], LabelledSet.Classes(test));
    }

    [Fact]
    public void HeadFileRoundTripsAndProjects()
    {
        // 3 -> 2: W = [[1, 0, 0], [0, 2, 0]], mean = (0, 0, 1).
        var head = new ProjectionHead("resnet18-abc-3", [0, 0, 1], [1, 0, 0, 0, 2, 0], 2);
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "h.head");
        head.Save(path);
        var loaded = ProjectionHead.Load(path);

        Assert.Equal(head.Sha256, loaded.Sha256);
        Assert.Equal("resnet18-abc-3", loaded.BackboneModelId);
        Assert.Equal(20 + "resnet18-abc-3".Length + 4 * 3 + 4 * 6, new FileInfo(path).Length);
        // x = (3, 2, 1): x - mean = (3, 2, 0); W(.) = (3, 4); norm 5 -> (0.6, 0.8).
        var y = loaded.Apply([3f, 2f, 1f]);
        Assert.Equal(5f, y.RawNorm, 5);
        Assert.Equal([0.6f, 0.8f], y.Vector);
        Assert.Throws<InvalidDataException>(() => ProjectionHead.Parse("not a head at all, really"u8));
        var truncated = head.Bytes.ToArray()[..^4];
        Assert.Throws<InvalidDataException>(() => ProjectionHead.Parse(truncated));
    }

    [Fact]
    public void ModelIdWithoutHeadIsUnchangedAndWithHeadNamesIt()
    {
        var sha = new string('a', 64);
        Assert.Equal("resnet18-aaaaaaaaaaaa-512", new ModelInfo("resnet18", sha, 512).Id);
        Assert.Equal("resnet18-aaaaaaaaaaaa-512-head-bbbbbbbb-128", new ModelInfo("resnet18", sha, 128, new HeadInfo(new string('b', 64), 512)).Id);
    }

    [Fact]
    public void CacheWithRegionsKeepsThemApartFromThePlainOne()
    {
        using var dir = new TempDirectory();
        var regions = new List<RegionVector> { new([0, 0, 1], new RegionBox(1, 2, 30, 40)), new([0, 1, 0], new RegionBox(5, 6, 7, 8)) };
        using (var cache = EmbeddingCache.Open(dir.Path, "m-1", 3, regions: true))
        {
            cache.Add("a", new Embedding.Embedding([1, 0, 0], 2) { Regions = regions });
            cache.Add("b", new Embedding.Embedding([0, 1, 0], 3) { Regions = [] });
            Assert.Throws<ArgumentException>(() => cache.Add("c", new Embedding.Embedding([0, 1, 0], 3)));
        }

        // Its own segments (m-1.regions.<guid>.seg); made the main file with a torn tail, as an earlier release's append left it.
        var file = Path.Combine(dir.Path, "m-1.regions.vec");
        File.Move(Assert.Single(Directory.GetFiles(dir.Path, "m-1.regions.*.seg")), file);
        File.AppendAllText(file, "\u0005\0\0\0torn");
        using (var cache = EmbeddingCache.Open(dir.Path, "m-1", 3, regions: true))
        {
            Assert.Equal(2, cache.Count);
            Assert.True(cache.TryGet("a", out var a));
            Assert.Equal([1f, 0f, 0f], a.Vector);
            Assert.Equal(regions.Select(r => r.Box), a.Regions!.Select(r => r.Box));
            Assert.Equal(regions.Select(r => r.Vector), a.Regions!.Select(r => r.Vector));
            Assert.True(cache.TryGet("b", out var b));
            Assert.Empty(b.Regions!);
        }

        using var plain = EmbeddingCache.Open(dir.Path, "m-1", 3);
        Assert.Equal(0, plain.Count);
    }

    [Fact]
    public void CacheKeepsEntriesAndIgnoresATornTail()
    {
        using var dir = new TempDirectory();
        using (var cache = EmbeddingCache.Open(dir.Path, "m-1", 3))
        {
            cache.Add("a", new Embedding.Embedding([1, 0, 0], 2));
            cache.Add("b", new Embedding.Embedding([0, 1, 0], 3));
        }

        // A main file of an earlier release, which appended: a run killed mid-entry left a torn tail.
        var segment = Assert.Single(Directory.GetFiles(dir.Path, "m-1.*.seg"));
        var file = Path.Combine(dir.Path, "m-1.vec");
        File.Move(segment, file);
        File.AppendAllText(file, "\u0005\0\0\0torn");
        var length = new FileInfo(file).Length;
        Assert.False(File.Exists(Path.Combine(dir.Path, "m-1.regions.vec")));
        using (var cache = EmbeddingCache.Open(dir.Path, "m-1", 3))
        {
            Assert.Equal(2, cache.Count);
            Assert.True(cache.TryGet("b", out var b));
            Assert.Equal(3, b.RawNorm);
            Assert.Equal([0f, 1f, 0f], b.Vector);
        }

        // Nothing is written in place: an open that adds nothing leaves the files as they were.
        Assert.Equal(length, new FileInfo(file).Length);
        Assert.Empty(Directory.GetFiles(dir.Path, "m-1.*.seg"));
    }

    [Fact]
    public void CacheLeavesOutAnEntryWhoseVectorIsNoEmbedding()
    {
        using var dir = new TempDirectory();
        using (var cache = EmbeddingCache.Open(dir.Path, "m-1", 3))
        {
            cache.Add("a", new Embedding.Embedding([1, 0, 0], 2));
            cache.Add("b", new Embedding.Embedding([0, 1, 0], 3));
            cache.Add("c", new Embedding.Embedding([0, 0, 1], 4));
        }

        // Garbage in b's vector (a float of 1e30 where its 1 was): the entry is skipped, the ones around it stay.
        var segment = Assert.Single(Directory.GetFiles(dir.Path, "m-1.*.seg"));
        var bytes = File.ReadAllBytes(segment);
        var one = BitConverter.GetBytes(1f);
        var at = bytes.AsSpan().IndexOf([.. BitConverter.GetBytes(3f), .. BitConverter.GetBytes(0f), .. one]) + 8;
        BitConverter.GetBytes(1e30f).CopyTo(bytes, at);
        File.WriteAllBytes(segment, bytes);
        using var reopened = EmbeddingCache.Open(dir.Path, "m-1", 3);
        Assert.Equal(2, reopened.Count);
        Assert.False(reopened.TryGet("b", out _));
        Assert.True(reopened.TryGet("a", out var a));
        Assert.Equal([1f, 0f, 0f], a.Vector);
        Assert.True(reopened.TryGet("c", out var c));
        Assert.Equal([0f, 0f, 1f], c.Vector);
    }

    [Fact]
    public void CacheTakesWritersSideBySideAndMergesTheirSegments()
    {
        using var dir = new TempDirectory();
        // Two processes' caches open at once (the old appending file interleaved their writes), plus another
        // model whose id starts with this one's, and a temporary file a killed writer left behind.
        using (var other = EmbeddingCache.Open(dir.Path, "m-1-int8", 3)) other.Add("x", new Embedding.Embedding([0, 0, 1], 1));
        File.WriteAllText(Path.Combine(dir.Path, "m-1.0123456789abcdef0123456789abcdef.seg.deadbeef.tmp"), "half a segment");
        var first = EmbeddingCache.Open(dir.Path, "m-1", 3);
        var second = EmbeddingCache.Open(dir.Path, "m-1", 3);
        for (var i = 0; i < EmbeddingCache.SegmentEntries + 5; i++)
        {
            first.Add($"first/{i}", new Embedding.Embedding([1, 0, i], 1));
            second.Add($"second/{i}", new Embedding.Embedding([0, 1, i], 1));
        }

        // A full segment each is on disk before either closes.
        Assert.Equal(2, Directory.GetFiles(dir.Path, "m-1.*.seg").Length);
        first.Dispose();
        second.Dispose();

        using (var reopened = EmbeddingCache.Open(dir.Path, "m-1", 3))
        {
            Assert.Equal(2 * (EmbeddingCache.SegmentEntries + 5), reopened.Count);
            Assert.True(reopened.TryGet("second/3", out var e));
            Assert.Equal([0f, 1f, 3f], e.Vector);
            Assert.False(reopened.TryGet("x", out _));
        }

        // Past CompactAbove segments an open merges them into the main file and deletes them.
        for (var s = 0; s < EmbeddingCache.CompactAbove; s++)
        {
            using var writer = EmbeddingCache.Open(dir.Path, "m-1", 3);
            writer.Add($"more/{s}", new Embedding.Embedding([1, 1, s], 1));
        }

        using (var compacted = EmbeddingCache.Open(dir.Path, "m-1", 3))
        {
            Assert.Equal(2 * (EmbeddingCache.SegmentEntries + 5) + EmbeddingCache.CompactAbove, compacted.Count);
        }

        Assert.True(File.Exists(Path.Combine(dir.Path, "m-1.vec")));
        // 4 + CompactAbove segments were written; one open merged the 33 it found.
        Assert.True(Directory.GetFiles(dir.Path, "m-1.*.seg").Length < 4, string.Join(", ", Directory.GetFiles(dir.Path)));
        using var again = EmbeddingCache.Open(dir.Path, "m-1", 3);
        Assert.Equal(2 * (EmbeddingCache.SegmentEntries + 5) + EmbeddingCache.CompactAbove, again.Count);
        Assert.True(again.TryGet("more/7", out var m));
        Assert.Equal([1f, 1f, 7f], m.Vector);
    }

    [Fact]
    public void EigenDecompositionOfASmallKnownMatrix()
    {
        // [[2,1,0],[1,2,0],[0,0,3]]: eigenvalues 1, 3, 3.
        double[] a = [2, 1, 0, 1, 2, 0, 0, 0, 3];
        var (values, vectors) = Pca.SymmetricEigen(a, 3);
        Assert.Equal([1.0, 3.0, 3.0], values.Order().Select(v => Math.Round(v, 9)));
        AssertEigenPairs(a, values, vectors, 3);
    }

    [Fact]
    public void EigenDecompositionOfARandomSymmetricMatrix()
    {
        const int n = 40;
        var random = new Random(5);
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
            for (var j = i; j < n; j++) a[i * n + j] = a[j * n + i] = random.NextDouble() - 0.5;
        var (values, vectors) = Pca.SymmetricEigen(a, n);
        AssertEigenPairs(a, values, vectors, n);
        // The trace is the sum of the eigenvalues.
        Assert.Equal(Enumerable.Range(0, n).Sum(i => a[i * n + i]), values.Sum(), 9);
    }

    /// <summary>A v = λ v for every pair, and the vectors are orthonormal.</summary>
    private static void AssertEigenPairs(double[] a, double[] values, double[] vectors, int n)
    {
        for (var k = 0; k < n; k++)
        {
            for (var i = 0; i < n; i++)
            {
                double av = 0;
                for (var j = 0; j < n; j++) av += a[i * n + j] * vectors[j * n + k];
                Assert.Equal(values[k] * vectors[i * n + k], av, 9);
            }

            for (var l = 0; l < n; l++)
            {
                double dot = 0;
                for (var i = 0; i < n; i++) dot += vectors[i * n + k] * vectors[i * n + l];
                Assert.Equal(k == l ? 1 : 0, dot, 9);
            }
        }
    }

    [Fact]
    public void HealthOfAnOrthonormalSetAndOfACollapsedOne()
    {
        float[][] basis = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
        var h = EmbeddingSetHealth.Compute(basis, [2f, 4f, 6f, 8f]);
        Assert.Equal(5, h.MeanRawNorm, 9);
        Assert.Equal(0, h.MeanCosine, 6);
        Assert.Equal(3, h.EffectiveDimension, 6); // centred, the four points span 3 equal directions
        Assert.Equal(0, h.NearDeadShare);

        float[][] collapsed = [[1, 0, 0, 0], [0.995f, 0.0999f, 0, 0], [0.995f, -0.0999f, 0, 0]];
        var c = EmbeddingSetHealth.Compute(collapsed);
        Assert.True(c.MeanCosine > 0.98);
        Assert.True(c.NearDeadShare >= 0.5); // two dimensions never vary, a third hardly
        Assert.True(c.EffectiveDimension < 1.1);
    }

    [Fact]
    public void CopyEditsAreDeterministicAndDoWhatTheySay()
    {
        using var dir = new TempDirectory();
        var refs = TinySets.WriteReferences(dir.Path, 1);
        var bytes = File.ReadAllBytes(Path.Combine(refs, "ref00.png"));
        foreach (var edit in CopyEdits.All)
        {
            var first = CopyEdits.Apply(bytes, edit, 1, "ref00.png");
            Assert.Equal(first, CopyEdits.Apply(bytes, edit, 1, "ref00.png"));
            using var decoded = SKBitmap.Decode(first);
            Assert.NotNull(decoded);
            var (w, h) = edit switch
            {
                CopyEdit.Crop50 => (227, 170),      // 71% of 320 x 240: half the area
                CopyEdit.Downscale25 => (80, 60),
                CopyEdit.Rotate15 => (372, 315),    // the rotated bounding box
                CopyEdit.Combined => (128, 96),     // 80% crop, then half
                _ => (320, 240),
            };
            if (CopyEdits.IsPartial(edit))
            {
                // A square detail of 3-10% of the 320 x 240 area: 48 to 88 px a side.
                Assert.Equal(decoded.Width, decoded.Height);
                Assert.InRange(decoded.Width * decoded.Height, 0.03 * 320 * 240 - 100, 0.10 * 320 * 240 + 100);
                continue;
            }

            Assert.Equal((w, h), (decoded.Width, decoded.Height));
        }

        // The partial detail's place and size follow the seed; the circular one has white corners.
        Assert.NotEqual(CopyEdits.Apply(bytes, CopyEdit.PartialSquare, 1, "ref00.png"), CopyEdits.Apply(bytes, CopyEdit.PartialSquare, 2, "ref00.png"));
        using (var circle = SKBitmap.Decode(CopyEdits.Apply(bytes, CopyEdit.PartialCircle, 1, "ref00.png")))
        {
            var corner = circle.GetPixel(1, 1);
            Assert.True(corner.Red > 240 && corner.Green > 240 && corner.Blue > 240, $"corner {corner}");
        }

        var shares = Enumerable.Range(0, 200).Select(seed =>
        {
            var rect = CopyEdits.PartialDetail(320, 240, new Random(seed));
            Assert.True(rect.Left >= 0 && rect.Top >= 0 && rect.Right <= 320 && rect.Bottom <= 240, $"{rect}");
            return rect.Width * rect.Height / (320.0 * 240);
        }).ToList();
        Assert.InRange(shares.Min(), 0.029, 0.04);
        Assert.InRange(shares.Max(), 0.09, 0.101);

        Assert.NotEqual(CopyEdits.Apply(bytes, CopyEdit.Overlay, 1, "ref00.png"), CopyEdits.Apply(bytes, CopyEdit.Overlay, 2, "ref00.png"));
        Assert.True(CopyEdits.Apply(bytes, CopyEdit.Jpeg10, 1, "k").Length < CopyEdits.Apply(bytes, CopyEdit.ColourShift, 1, "k").Length);
    }

    [Fact]
    public void StoredItemsGetTheirDetailRegionsQueriesDoNotAndEachHasItsOwnCache()
    {
        using var dir = new TempDirectory();
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new VisualSearchMetrics(services.GetRequiredService<IMeterFactory>());
        var decoder = new ImageDecoder(Options.Create(new ImagingOptions()));
        var options = new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, DetailRegionSide = 448, Int8CachePath = dir.Path };
        using var encoder = new OnnxImageEncoder(Options.Create(options), NullLogger<OnnxImageEncoder>.Instance, metrics);
        var refs = TinySets.WriteReferences(Path.Combine(dir.Path, "refs"), 2);
        var jobs = Directory.GetFiles(refs).Order(StringComparer.Ordinal).Select(EmbeddingJob.ForFile).ToList();
        var cacheDirectory = Path.Combine(dir.Path, "cache");

        // 320 x 240 references: their regions come from a 608 x 448 image (a 19 x 14 map), windows of 3 and 4 cells (the default).
        BatchEmbedding items;
        using (var cache = EmbeddingCache.Open(cacheDirectory, encoder.Model.Id, 512, regions: true))
            items = BatchEmbedder.Embed(decoder, encoder, jobs, cache, workers: 1, storedItems: true);
        Assert.All(items.Results, e => Assert.Equal(DetailRegionGrid.Compute(19, 14, [3, 4], 60).Count, e!.Value.Regions!.Count));

        BatchEmbedding queries;
        using (var cache = EmbeddingCache.Open(cacheDirectory, encoder.Model.WithoutDetailRegions.Id, 512))
            queries = BatchEmbedder.Embed(decoder, encoder, jobs, cache, workers: 1);
        Assert.All(queries.Results, e => Assert.Null(e!.Value.Regions));
        for (var i = 0; i < jobs.Count; i++) Assert.Equal(items.Results[i]!.Value.Vector, queries.Results[i]!.Value.Vector);

        // A second run reads both caches; a cache of the other kind is refused.
        using (var cache = EmbeddingCache.Open(cacheDirectory, encoder.Model.Id, 512, regions: true))
        {
            var again = BatchEmbedder.Embed(decoder, encoder, jobs, cache, workers: 1, storedItems: true);
            Assert.Equal(2, again.FromCache);
            Assert.Equal(items.Results[0]!.Value.Regions!.Select(r => r.Box), again.Results[0]!.Value.Regions!.Select(r => r.Box));
            Assert.Throws<ArgumentException>(() => BatchEmbedder.Embed(decoder, encoder, jobs, cache, workers: 1));
        }
    }

    [Fact]
    public void QueriesAreEmbeddedAsASearchEmbedsThemUnderACacheOfTheirOwn()
    {
        using var dir = new TempDirectory();
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new VisualSearchMetrics(services.GetRequiredService<IMeterFactory>());
        var decoder = new ImageDecoder(Options.Create(new ImagingOptions()));
        var options = new EncoderOptions { Descriptor = DescriptorMode.FeatureMap, QueryBackground = QueryBackgroundMode.Crop, DetailRegionSide = 0, Int8CachePath = dir.Path };
        using var encoder = new OnnxImageEncoder(Options.Create(options), NullLogger<OnnxImageEncoder>.Instance, metrics);

        // A noisy 1200 x 900 reference (its detail, 180 to 329 px, is scaled to 224) and its circular detail (eval-copies' partial-circ edit): the detail has a background.
        var random = new Random(11);
        using var noise = new SKBitmap(new SKImageInfo(1200, 900, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = new byte[1200 * 900 * 4];
        random.NextBytes(pixels);
        for (var i = 3; i < pixels.Length; i += 4) pixels[i] = 255;
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, noise.GetPixels(), pixels.Length);
        var circle = CopyEdits.Apply(noise, CopyEdit.PartialCircle, 1, "noise");
        List<EmbeddingJob> jobs = [new("circle", () => circle, "circle")];

        BatchEmbedding queries;
        using (var cache = EmbeddingCache.Open(Path.Combine(dir.Path, "cache"), encoder.Model.QueryId, 512))
            queries = BatchEmbedder.Embed(decoder, encoder, jobs, cache, workers: 1, queries: true);
        var prepared = decoder.Prepare(circle, encoder.Input);
        Assert.Equal(encoder.EmbedQuery(prepared).Vector, queries.Results[0]!.Value.Vector);
        Assert.NotEqual(encoder.Embed(prepared).Vector, queries.Results[0]!.Value.Vector);
        Assert.EndsWith("-qbgcrop", encoder.Model.QueryId, StringComparison.Ordinal);

        // The items' cache is not the queries', and a job is an item or a query, not both.
        using (var cache = EmbeddingCache.Open(Path.Combine(dir.Path, "cache"), encoder.Model.Id, 512))
        {
            Assert.Throws<ArgumentException>(() => BatchEmbedder.Embed(decoder, encoder, jobs, cache, workers: 1, queries: true));
            Assert.Equal(encoder.Embed(prepared).Vector, BatchEmbedder.Embed(decoder, encoder, jobs, cache, workers: 1).Results[0]!.Value.Vector);
        }

        Assert.Throws<ArgumentException>(() => BatchEmbedder.Embed(decoder, encoder, jobs, null, workers: 1, storedItems: true, queries: true));
    }
}
