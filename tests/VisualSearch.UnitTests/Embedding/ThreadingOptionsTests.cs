using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Embedding;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Embedding;

/// <summary>
/// Threading settings change how fast the encoder runs, never what it answers: ONNX Runtime accepts each
/// combination, and the vectors equal those of the shared fixture's encoder (default settings).
/// </summary>
[Collection(EncoderCollection.Name)]
public sealed class ThreadingOptionsTests(EncoderFixture fixture)
{
    [Theory]
    [InlineData(1, true, EncoderPrecision.Int8)]
    [InlineData(1, false, EncoderPrecision.Int8)]
    [InlineData(2, false, EncoderPrecision.Int8)]
    [InlineData(1, true, EncoderPrecision.Float32)]
    [InlineData(2, false, EncoderPrecision.Float32)]
    public void Intra_op_threads_and_spinning_leave_the_vectors_unchanged(int threads, bool allowSpinning, EncoderPrecision precision)
    {
        var options = fixture.Options(precision);
        options.IntraOpThreads = threads;
        options.AllowSpinning = allowSpinning;
        using var encoder = new OnnxImageEncoder(Options.Create(options), NullLogger<OnnxImageEncoder>.Instance, fixture.Metrics);
        var prepared = fixture.Decoder.Prepare(SamplePhotos.Read("coffee.png"), encoder.InputSize);

        var vector = encoder.Embed(prepared).Vector;

        var reference = precision == EncoderPrecision.Int8 ? fixture.Int8 : fixture.Float32;
        Assert.Equal(reference.Model.Id, encoder.Model.Id);
        var expected = reference.Embed(prepared).Vector;
        Assert.Equal(expected.Length, vector.Length);
        // Another thread count may sum in another order: equal to float rounding, not bit for bit.
        Assert.True(EncoderFixture.Cosine(expected, vector) > 0.99999, $"cosine {EncoderFixture.Cosine(expected, vector)}");
    }
}
