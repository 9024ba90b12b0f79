using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
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

    [Fact]
    public void The_session_settings_are_every_optimisation_sequential_one_inter_op_thread_and_the_configured_intra_op_threads()
    {
        using var two = OnnxImageEncoder.CreateSessionOptions(new EncoderOptions { IntraOpThreads = 2 });
        Assert.Equal(GraphOptimizationLevel.ORT_ENABLE_ALL, two.GraphOptimizationLevel);
        Assert.Equal(ExecutionMode.ORT_SEQUENTIAL, two.ExecutionMode);
        Assert.Equal(2, two.IntraOpNumThreads);
        Assert.Equal(1, two.InterOpNumThreads);
        using var automatic = OnnxImageEncoder.CreateSessionOptions(new EncoderOptions { IntraOpThreads = 0 });
        Assert.Equal(Math.Min(Environment.ProcessorCount, 4), automatic.IntraOpNumThreads);
    }

    [Theory]
    [InlineData(EncoderPrecision.Int8)]
    [InlineData(EncoderPrecision.Float32)]
    public void Embed_fills_a_native_input_tensor_and_answers_what_the_model_alone_answers_bit_for_bit(EncoderPrecision precision)
    {
        var encoder = precision == EncoderPrecision.Int8 ? fixture.Int8 : fixture.Float32;
        var prepared = fixture.Decoder.Prepare(SamplePhotos.Read("chelsea.png"), encoder.InputSize);
        var vector = encoder.Embed(prepared).Vector;

        // No managed 224 x 224 x 3 tensor per image (a 600 KB large-object allocation): what one Embed allocates on this thread.
        var before = GC.GetAllocatedBytesForCurrentThread();
        encoder.Embed(prepared);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 3 * 224 * 224 * sizeof(float) / 4, $"Embed allocated {allocated} managed bytes");

        // The same file and session settings run alone on a managed tensor of the same preprocessing, then L2-normalised.
        var options = fixture.Options(precision);
        var tensor = OnnxImageEncoder.CreatePreprocessor(options).Create(prepared.Rgb);
        using var sessionOptions = OnnxImageEncoder.CreateSessionOptions(options);
        using var session = new InferenceSession(encoder.ModelFile, sessionOptions);
        using var input = OrtValue.CreateTensorValueFromMemory(tensor, [1, 3, 224, 224]);
        using var outputs = session.Run(new RunOptions(), [options.InputName], [input], [options.OutputName]);
        var alone = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        System.Numerics.Tensors.TensorPrimitives.Divide(alone, System.Numerics.Tensors.TensorPrimitives.Norm(alone), alone);
        Assert.Equal(alone, vector);
    }
}
