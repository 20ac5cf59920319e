"""The textbook chapter's two Keras snippets, registered as zoo models.

The chapter prints them in the Keras 2 style (`input_shape=` on the first
layer), which Keras 3 still builds, with a warning. The builders below make
the same models in the Keras 3 form, with `keras.Input`: the input shape is
then part of the model rather than a hint to its first layer. A test runs the
printed text verbatim and checks that both forms agree.
"""

from __future__ import annotations

import keras

from models.registry import register_model
from zoo.spec import FEATURES, MULTICLASS, REGRESSION, TaskSpec

# Exactly as printed in the chapter.
FORECASTER_TEXT = """\
import tensorflow as tf
model = tf.keras.Sequential([
    tf.keras.layers.SimpleRNN(50, input_shape=(10,1)),
    tf.keras.layers.Dense(1)
])
model.compile(optimizer='adam', loss='mse')
"""
CLASSIFIER_TEXT = """\
import tensorflow as tf
model = tf.keras.Sequential([
    tf.keras.layers.SimpleRNN(100, input_shape=(timesteps, features)),
    tf.keras.layers.Dense(number_of_classes, activation='softmax')
])
model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
"""


def build_forecaster(config, spec: TaskSpec, api: str = "sequential") -> keras.Model:
    """The chapter's forecaster: SimpleRNN(50) on (10, 1) windows -> Dense(1), Adam, MSE.

    Returns:
        A compiled `keras.Sequential`; output shape (batch, 1).
    """
    del api  # the chapter's model is Sequential
    source = spec.input
    if (source.timesteps, source.features, spec.output_units, spec.output_steps) != (10, 1, 1, None):
        raise ValueError(
            "the chapter's forecaster reads windows of 10 steps of 1 feature and predicts 1 value; "
            f"this task gives {source.timesteps} steps of {source.features} feature(s) and "
            f"{spec.output_units * (spec.output_steps or 1)} value(s): set the task's window and horizon"
        )
    model = keras.Sequential(
        [
            keras.Input(shape=(10, 1)),
            keras.layers.SimpleRNN(50),
            keras.layers.Dense(1),
        ],
        name=config.model,
    )
    model.compile(optimizer="adam", loss="mse", jit_compile=config.jit_compile)
    return model


def build_classifier(config, spec: TaskSpec, api: str = "sequential") -> keras.Model:
    """The chapter's classifier: SimpleRNN(100) -> softmax, RMSprop, categorical cross-entropy.

    `timesteps`, `features` and `number_of_classes` come from the task.

    Returns:
        A compiled `keras.Sequential`; output shape (batch, number_of_classes).
    """
    del api
    timesteps, features, number_of_classes = spec.input.timesteps, spec.input.features, spec.output_units
    model = keras.Sequential(
        [
            keras.Input(shape=(timesteps, features)),
            keras.layers.SimpleRNN(100),
            keras.layers.Dense(number_of_classes, activation="softmax"),
        ],
        name=config.model,
    )
    model.compile(
        optimizer="rmsprop",
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
    )
    return model


register_model(
    "snippet-forecaster",
    "the chapter's SimpleRNN(50) forecaster on 10-step windows, as printed",
    build_forecaster,
    preset=dict(cell="simplernn", units=50, layers=1, bidirectional=False, optimizer="adam"),
    heads=(REGRESSION,),
    input_kinds=(FEATURES,),
    apis=("sequential",),
    compiles=True,
)
register_model(
    "snippet-classifier",
    "the chapter's SimpleRNN(100) softmax classifier, one-hot labels, as printed",
    build_classifier,
    preset=dict(
        cell="simplernn", units=100, layers=1, bidirectional=False, optimizer="rmsprop", one_hot_labels=True
    ),
    heads=(MULTICLASS,),
    input_kinds=(FEATURES,),
    apis=("sequential",),
    compiles=True,
)
